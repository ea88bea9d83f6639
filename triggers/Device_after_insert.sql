-- A new enabled device gets every open rule it takes (rules chosen for named devices excepted);
-- active rules go back to pending until the new device has them too. A device's management
-- address is never blocked: a rule that came first is dropped.
CREATE TRIGGER Device_after_insert AFTER INSERT ON Device FOR EACH ROW
BEGIN
  IF IS_IPV4(NEW.host) OR IS_IPV6(NEW.host) THEN
    CALL ipms_drop_covering(INET6_ATON(NEW.host), INET6_ATON(NEW.host), CONCAT('device ', NEW.name));
  END IF;
  IF NEW.enabled = 1 THEN
    INSERT INTO RuleDevice (rule_id, device_id, desired, state, next_attempt_at)
    SELECT r.id, NEW.id, 'present', 'pending', UTC_TIMESTAMP(3)
    FROM Rule r
    WHERE r.status IN ('pending', 'active') AND r.targeted = 0
      AND (NEW.applies_to = 'any' OR NEW.applies_to = r.scope)
      AND (NEW.adapter NOT IN ('ipset', 'pf', 'routeros') OR (r.dst_ip IS NULL AND r.dst_port IS NULL AND r.proto IS NULL))
      AND (NEW.ipv6 = 1 OR LENGTH(r.src_ip) = 4);
    -- (the rules it does not take, source-only as it is, stay active: see Rule_after_insert)
    UPDATE Rule r
    SET r.status = 'pending'
    WHERE r.status = 'active' AND r.targeted = 0 AND (NEW.applies_to = 'any' OR NEW.applies_to = r.scope)
      AND (NEW.adapter NOT IN ('ipset', 'pf', 'routeros') OR (r.dst_ip IS NULL AND r.dst_port IS NULL AND r.proto IS NULL))
      AND (NEW.ipv6 = 1 OR LENGTH(r.src_ip) = 4);
  END IF;
END
