-- Enabling a device, or widening what it applies to (its scope, IPv6 turned on in its
-- options), fills in the open rules it now takes; narrowing takes off the rules it no longer
-- takes (with IPv6 turned off, the worker leaves the device's IPv6 entries where they are: its
-- adapter no longer touches IPv6 there, and `ipms devices set` says so). A device's new
-- management address is never blocked: a rule that came first is dropped. Disabling a device
-- gives it nothing new: the rules it never got (and no worker is sending) are no longer waited
-- for, so they become active on the devices that have them; enabled again, it gets them.
CREATE TRIGGER Device_after_update AFTER UPDATE ON Device FOR EACH ROW
BEGIN
  DECLARE v_off INT;
  DECLARE v_takes INT;
  -- disabled; enabled, or what it takes changed while it is
  SET v_off = NEW.enabled = 0 AND OLD.enabled = 1,
      v_takes = NEW.enabled = 1 AND (OLD.enabled = 0 OR NOT (NEW.applies_to <=> OLD.applies_to) OR NEW.ipv6 <> OLD.ipv6);
  IF NOT (NEW.host <=> OLD.host) AND (IS_IPV4(NEW.host) OR IS_IPV6(NEW.host)) THEN
    CALL ipms_drop_covering(INET6_ATON(NEW.host), INET6_ATON(NEW.host), CONCAT('device ', NEW.name));
  END IF;
  IF v_off THEN
    UPDATE RuleDevice rd JOIN Rule r ON r.id = rd.rule_id
    SET rd.desired = 'absent', rd.state = 'removed', rd.last_error = NULL, rd.version = rd.version + 1,
        rd.updated_at = UTC_TIMESTAMP(3)
    WHERE rd.device_id = NEW.id AND rd.desired = 'present' AND rd.state <> 'applied'
      AND (rd.applied_at IS NULL OR rd.removed_at >= rd.applied_at)
      AND (rd.claimed_until IS NULL OR rd.claimed_until < UTC_TIMESTAMP(3)) AND r.targeted = 0;
  END IF;
  IF v_takes THEN
    INSERT INTO RuleDevice (rule_id, device_id, desired, state, next_attempt_at)
    SELECT r.id, NEW.id, 'present', 'pending', UTC_TIMESTAMP(3)
    FROM Rule r
    WHERE r.status IN ('pending', 'active') AND r.targeted = 0
      AND (NEW.applies_to = 'any' OR NEW.applies_to = r.scope)
      AND (NEW.adapter NOT IN ('ipset', 'pf', 'routeros') OR (r.dst_ip IS NULL AND r.dst_port IS NULL AND r.proto IS NULL))
      AND (NEW.ipv6 = 1 OR LENGTH(r.src_ip) = 4)
      AND NOT EXISTS (SELECT 1 FROM RuleDevice x WHERE x.rule_id = r.id AND x.device_id = NEW.id);
    -- rows it had before a narrowing (taken off then) are wanted again once it takes them
    UPDATE RuleDevice rd JOIN Rule r ON r.id = rd.rule_id
    SET rd.desired = 'present', rd.state = 'pending', rd.attempts = 0, rd.last_error = NULL,
        rd.next_attempt_at = UTC_TIMESTAMP(3), rd.version = rd.version + 1, rd.updated_at = UTC_TIMESTAMP(3)
    WHERE rd.device_id = NEW.id AND rd.desired = 'absent' AND r.status IN ('pending', 'active') AND r.targeted = 0
      AND (NEW.applies_to = 'any' OR NEW.applies_to = r.scope)
      AND (NEW.adapter NOT IN ('ipset', 'pf', 'routeros') OR (r.dst_ip IS NULL AND r.dst_port IS NULL AND r.proto IS NULL))
      AND (NEW.ipv6 = 1 OR LENGTH(r.src_ip) = 4);
    -- an active rule is active on every device that takes it: until this one has it, pending
    UPDATE Rule r JOIN RuleDevice x ON x.rule_id = r.id
    SET r.status = 'pending'
    WHERE x.device_id = NEW.id AND x.desired = 'present' AND x.state <> 'applied' AND r.status = 'active';
    -- what it no longer takes is taken off by the worker (also a row never recorded as applied:
    -- a batch that failed or timed out may have put it there)
    UPDATE RuleDevice rd JOIN Rule r ON r.id = rd.rule_id
    SET rd.desired = 'absent', rd.state = 'pending', rd.attempts = 0, rd.last_error = NULL,
        rd.next_attempt_at = UTC_TIMESTAMP(3), rd.version = rd.version + 1, rd.updated_at = UTC_TIMESTAMP(3)
    WHERE rd.device_id = NEW.id AND rd.desired = 'present' AND r.targeted = 0
      AND (NOT (NEW.applies_to = 'any' OR NEW.applies_to = r.scope) OR (NEW.ipv6 = 0 AND LENGTH(r.src_ip) = 16));
  END IF;
  -- a rule that waited only for this device (disabled, or no longer taking it) is active on the
  -- devices that hold it
  IF v_off OR v_takes THEN
    UPDATE Rule r
    SET r.status = 'active'
    WHERE r.status = 'pending'
      AND EXISTS (SELECT 1 FROM RuleDevice x WHERE x.rule_id = r.id AND x.device_id = NEW.id AND x.desired = 'absent')
      AND EXISTS (SELECT 1 FROM RuleDevice y WHERE y.rule_id = r.id AND y.desired = 'present')
      AND NOT EXISTS (SELECT 1 FROM RuleDevice z WHERE z.rule_id = r.id AND z.desired = 'present' AND z.state <> 'applied');
  END IF;
END
