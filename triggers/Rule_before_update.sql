-- Everything a change of a Rule row means, in one trigger: a trigger call costs about as much
-- as the row's own update, and the worker marks 100k rules active in one batch.
--  * Derived columns stay right when a DBA edits a rule, and a rule whose source has become
--    protected since cannot be re-opened.
--  * The DBA's lever: changing Rule.status in plain SQL is enough. Closing a rule (dropped,
--    disabled, expired) makes every device's row desired = 'absent'; re-opening it (pending,
--    active) makes them 'present' again and fills in devices added meanwhile. Each change bumps
--    `version`, so a worker's result for the previous wish is not taken for the new one.
--    pending <-> active changes nothing here: the worker (or RuleDevice's own trigger) moves a
--    rule to active; a rule set to active while a device has yet to apply it stays pending. A new action or expiry of an open rule is put on every device again.
--  * The traffic a rule matches (source, destination, port, protocol) is what the devices
--    hold: it cannot change while any device has (or may have) the rule, or the old entry
--    would stay behind unseen. Drop the rule and add a new one; a closed rule that is off
--    every device can be edited and re-opened.
-- The RuleDevice writes happen before the row is written: if the row is then refused (an
-- identical open rule exists: uq_rule_open), the whole statement is rolled back with them.
-- The worker's activation (pending -> active, 100k rows in one batch) skips the column
-- comparisons below: the items of an IF are prepared again on every row, and those comparisons
-- were most of the cost of recording a large batch (13 of 20 us a row here). It says so with
-- @ipms_batch_record on its session; the test also asks for exactly that change of status, which
-- the comparisons would let through anyway, so the variable left set on a worker's session
-- lets nothing else past (its account may change only Rule.status and reason). An account that may edit
-- a rule's traffic could set it by hand to skip these checks for its own statement only.
CREATE TRIGGER Rule_before_update BEFORE UPDATE ON Rule FOR EACH ROW
body: BEGIN
  SET NEW.updated_at = UTC_TIMESTAMP(3);
  IF @ipms_batch_record <=> 1 AND NEW.status = 'active' AND OLD.status = 'pending' THEN
    LEAVE body;
  END IF;
  -- set to active by hand while a device has yet to apply it: it stays pending
  IF NEW.status = 'active' AND OLD.status = 'pending' THEN
    IF EXISTS (SELECT 1 FROM RuleDevice x WHERE x.rule_id = NEW.id AND x.desired = 'present' AND x.state <> 'applied') THEN
      SET NEW.status = 'pending';
    END IF;
  END IF;
  IF NOT (NEW.src_ip <=> OLD.src_ip) OR NOT (NEW.src_prefix <=> OLD.src_prefix)
     OR (NEW.status IN ('pending', 'active', 'disabled')) <> (OLD.status IN ('pending', 'active', 'disabled'))
     OR (NEW.status IN ('pending', 'active')) <> (OLD.status IN ('pending', 'active'))
     OR NOT (NEW.action <=> OLD.action) OR NOT (NEW.expires_at <=> OLD.expires_at)
     OR NOT (NEW.dst_ip <=> OLD.dst_ip) OR NOT (NEW.dst_port <=> OLD.dst_port)
     OR NOT (CAST(NEW.proto AS BINARY) <=> CAST(OLD.proto AS BINARY))
     OR NOT (NEW.src_last <=> OLD.src_last) OR NOT (NEW.scope <=> OLD.scope) THEN
   BEGIN
    DECLARE v_first VARBINARY(16);
    DECLARE v_last VARBINARY(16);
    DECLARE v_prefix INT;
    DECLARE v_what VARCHAR(200);
    DECLARE v_msg VARCHAR(255);
    DECLARE v_was_on INT;
    DECLARE v_is_on INT;
    DECLARE v_traffic INT DEFAULT 0;
    -- derived columns follow the source; written by hand they are put back (the scope to what
    -- the Network table says now: ipms_rescope writes it when a network changes)
    IF NEW.src_ip <=> OLD.src_ip AND NEW.src_prefix <=> OLD.src_prefix THEN
      SET NEW.src_last = OLD.src_last;
      IF NOT (NEW.scope <=> OLD.scope) THEN
        SET NEW.scope = IF(EXISTS (SELECT 1 FROM Network n
                                   WHERE n.first_ip <= NEW.src_ip AND n.last_ip >= NEW.src_last
                                     AND LENGTH(n.first_ip) = LENGTH(NEW.src_ip)), 'internal', 'external');
      END IF;
    END IF;
    -- (protocol names compared as bytes: 'TCP' is another value than 'tcp' to the devices)
    IF NOT (NEW.src_ip <=> OLD.src_ip) OR NOT (NEW.src_prefix <=> OLD.src_prefix)
       OR NOT (NEW.dst_ip <=> OLD.dst_ip) OR NOT (NEW.dst_port <=> OLD.dst_port)
       OR NOT (CAST(NEW.proto AS BINARY) <=> CAST(OLD.proto AS BINARY)) THEN
      SET v_traffic = 1;
      IF EXISTS (SELECT 1 FROM RuleDevice x WHERE x.rule_id = OLD.id AND x.state <> 'removed') THEN
        SET v_msg = LEFT(CONCAT('ipms: refused to change the traffic of rule ', OLD.id, ': it is on devices (or on its way); ',
                                'drop it and add a new rule'), 128);
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
      END IF;
      -- the same checks as Rule_before_insert's, written out there too: a procedure CALL per
      -- inserted rule is a cost a 100k-entry blacklist import pays 100k times
      SET NEW.proto = LOWER(NEW.proto);
      IF NEW.dst_port IS NOT NULL AND (NEW.proto IS NULL OR NEW.proto NOT IN ('tcp', 'udp', 'sctp', 'udplite', 'dccp')) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ipms: a rule with dst_port needs proto tcp, udp, sctp, udplite or dccp';
      END IF;
      IF NEW.proto IS NOT NULL AND NEW.proto NOT IN ('tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'gre', 'esp', 'ah', 'igmp', 'udplite', 'dccp') THEN
        SET v_msg = CONCAT('ipms: unknown protocol for a rule: ', LEFT(NEW.proto, 16));
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
      END IF;
    END IF;
    IF NOT (NEW.src_ip <=> OLD.src_ip) OR NOT (NEW.src_prefix <=> OLD.src_prefix) THEN
      CALL ipms_cidr(CONCAT(INET6_NTOA(NEW.src_ip), '/', IFNULL(NEW.src_prefix, LENGTH(NEW.src_ip) * 8)),
                     v_first, v_last, v_prefix);
      SET NEW.src_ip = v_first, NEW.src_prefix = v_prefix, NEW.src_last = v_last;
      IF NEW.src_prefix < IF(LENGTH(NEW.src_ip) = 4, 8, 16) THEN
        SET v_msg = CONCAT('ipms: refused to block ', INET6_NTOA(NEW.src_ip), '/', NEW.src_prefix,
                           ': wider than /', IF(LENGTH(NEW.src_ip) = 4, 8, 16), ' is not a block ipms makes');
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
      END IF;
      SET NEW.scope = IF(EXISTS (SELECT 1 FROM Network n
                                 WHERE n.first_ip <= NEW.src_ip AND n.last_ip >= NEW.src_last
                                   AND LENGTH(n.first_ip) = LENGTH(NEW.src_ip)), 'internal', 'external');
    END IF;
    IF NEW.dst_ip IS NOT NULL AND LENGTH(NEW.dst_ip) <> LENGTH(NEW.src_ip) THEN
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ipms: source and destination of a rule must be the same address family';
    END IF;
    -- (for a rule that is or stays open: one closed before ah became IPv4 only can still be dropped)
    IF ((NEW.proto IN ('icmp', 'igmp', 'ah') AND LENGTH(NEW.src_ip) <> 4) OR (NEW.proto = 'icmpv6' AND LENGTH(NEW.src_ip) <> 16))
       AND (v_traffic = 1 OR NEW.status IN ('pending', 'active', 'disabled')) THEN
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ipms: icmp, igmp and ah are IPv4 only (AH is an IPv6 extension header), icmpv6 is IPv6 only';
    END IF;
    IF NEW.status IN ('pending', 'active', 'disabled')
       AND (OLD.status NOT IN ('pending', 'active', 'disabled') OR NOT (NEW.src_ip <=> OLD.src_ip)
            OR NOT (NEW.src_prefix <=> OLD.src_prefix)) THEN
      CALL ipms_protected(NEW.src_ip, NEW.src_last, v_what);
      IF v_what IS NOT NULL THEN
        SET v_msg = LEFT(CONCAT('ipms: refused to block ', INET6_NTOA(NEW.src_ip), '/', NEW.src_prefix,
                           ': protected by ', v_what), 128);
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
      END IF;
    END IF;
    -- the devices that hold the rule hold it under its old action (another nftables set,
    -- ipset, pf table or RouterOS list): the worker takes that entry off too (see schema 0019).
    -- Every row but one whose entry is off: a batch that failed half way or was released (the
    -- rule changed meanwhile) may have put it there without recording it. A row being taken
    -- off is sent again, its version bumped, so that a removal claimed before the change is
    -- not recorded as the whole of it.
    IF NOT (NEW.action <=> OLD.action) THEN
      UPDATE RuleDevice
      SET old_action = OLD.action, version = version + 1, updated_at = UTC_TIMESTAMP(3),
          state = IF(desired = 'absent', 'pending', state), attempts = IF(desired = 'absent', 0, attempts),
          next_attempt_at = IF(desired = 'absent', UTC_TIMESTAMP(3), next_attempt_at)
      WHERE rule_id = NEW.id AND NOT (desired = 'absent' AND state = 'removed');
    END IF;
    SET v_was_on = OLD.status IN ('pending', 'active');
    SET v_is_on = NEW.status IN ('pending', 'active');
    IF v_was_on = 1 AND v_is_on = 0 THEN
      UPDATE RuleDevice
      SET desired = 'absent', state = 'pending', attempts = 0, last_error = NULL,
          next_attempt_at = UTC_TIMESTAMP(3), version = version + 1, updated_at = UTC_TIMESTAMP(3)
      WHERE rule_id = NEW.id AND desired = 'present';
    ELSEIF v_is_on = 1 AND (v_was_on = 0 OR v_traffic = 1) THEN
      -- back on the devices that take it now (its source may have been edited while it was
      -- closed, and a disabled device gets nothing new); so is an open rule whose traffic
      -- changed while no device had it (a port rule that source-only devices did not take,
      -- edited to all traffic)
      UPDATE RuleDevice rd JOIN Device d ON d.id = rd.device_id
      SET rd.desired = 'present', rd.state = 'pending', rd.attempts = 0, rd.last_error = NULL,
          rd.next_attempt_at = UTC_TIMESTAMP(3), rd.version = rd.version + 1, rd.updated_at = UTC_TIMESTAMP(3)
      WHERE rd.rule_id = NEW.id AND rd.desired = 'absent' AND d.enabled = 1
        AND (NEW.targeted = 1 OR d.applies_to = 'any' OR d.applies_to = NEW.scope)
        AND (NEW.targeted = 1 OR d.adapter NOT IN ('ipset', 'pf', 'routeros') OR (NEW.dst_ip IS NULL AND NEW.dst_port IS NULL AND NEW.proto IS NULL))
        AND (NEW.targeted = 1 OR d.ipv6 = 1 OR LENGTH(NEW.src_ip) = 4);
      IF NEW.targeted = 0 THEN
        INSERT INTO RuleDevice (rule_id, device_id, desired, state, next_attempt_at)
        SELECT NEW.id, d.id, 'present', 'pending', UTC_TIMESTAMP(3)
        FROM Device d
        WHERE d.enabled = 1 AND (d.applies_to = 'any' OR d.applies_to = NEW.scope)
          AND (d.adapter NOT IN ('ipset', 'pf', 'routeros') OR (NEW.dst_ip IS NULL AND NEW.dst_port IS NULL AND NEW.proto IS NULL))
          AND (d.ipv6 = 1 OR LENGTH(NEW.src_ip) = 4)
          AND NOT EXISTS (SELECT 1 FROM RuleDevice x WHERE x.rule_id = NEW.id AND x.device_id = d.id);
      END IF;
    ELSEIF v_is_on = 1 AND (NOT (NEW.action <=> OLD.action) OR NOT (NEW.expires_at <=> OLD.expires_at)) THEN
      UPDATE RuleDevice
      SET state = 'pending', attempts = 0, last_error = NULL,
          next_attempt_at = UTC_TIMESTAMP(3), version = version + 1, updated_at = UTC_TIMESTAMP(3)
      WHERE rule_id = NEW.id AND desired = 'present';
    END IF;
    -- an open rule whose scope changed (a network added or removed around it): devices that
    -- take only the old scope take it off, devices that take the new one get it
    IF v_was_on = 1 AND v_is_on = 1 AND NOT (NEW.scope <=> OLD.scope) AND NEW.targeted = 0 THEN
      UPDATE RuleDevice rd JOIN Device d ON d.id = rd.device_id
      SET rd.desired = 'absent', rd.state = 'pending', rd.attempts = 0, rd.last_error = NULL,
          rd.next_attempt_at = UTC_TIMESTAMP(3), rd.version = rd.version + 1, rd.updated_at = UTC_TIMESTAMP(3)
      WHERE rd.rule_id = NEW.id AND rd.desired = 'present' AND d.applies_to = OLD.scope;
      UPDATE RuleDevice rd JOIN Device d ON d.id = rd.device_id
      SET rd.desired = 'present', rd.state = 'pending', rd.attempts = 0, rd.last_error = NULL,
          rd.next_attempt_at = UTC_TIMESTAMP(3), rd.version = rd.version + 1, rd.updated_at = UTC_TIMESTAMP(3)
      WHERE rd.rule_id = NEW.id AND rd.desired = 'absent' AND d.enabled = 1 AND d.applies_to = NEW.scope
        AND (d.adapter NOT IN ('ipset', 'pf', 'routeros') OR (NEW.dst_ip IS NULL AND NEW.dst_port IS NULL AND NEW.proto IS NULL))
        AND (d.ipv6 = 1 OR LENGTH(NEW.src_ip) = 4);
      INSERT INTO RuleDevice (rule_id, device_id, desired, state, next_attempt_at)
      SELECT NEW.id, d.id, 'present', 'pending', UTC_TIMESTAMP(3)
      FROM Device d
      WHERE d.enabled = 1 AND d.applies_to = NEW.scope
        AND (d.adapter NOT IN ('ipset', 'pf', 'routeros') OR (NEW.dst_ip IS NULL AND NEW.dst_port IS NULL AND NEW.proto IS NULL))
        AND (d.ipv6 = 1 OR LENGTH(NEW.src_ip) = 4)
        AND NOT EXISTS (SELECT 1 FROM RuleDevice x WHERE x.rule_id = NEW.id AND x.device_id = d.id);
    END IF;
    -- a rule is active once every device has applied it: one re-opened as 'active' by hand, or
    -- whose action, expiry or scope was just put on its devices again, waits for them first
    IF NEW.status = 'active'
       AND EXISTS (SELECT 1 FROM RuleDevice x WHERE x.rule_id = NEW.id AND x.desired = 'present' AND x.state <> 'applied') THEN
      SET NEW.status = 'pending';
    END IF;
   END;
  END IF;
END body
