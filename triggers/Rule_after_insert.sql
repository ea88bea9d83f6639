-- Every enabled device that takes the rule gets a RuleDevice row. A rule whose devices were
-- chosen by hand (targeted = 1) gets its rows from whoever chose them.
-- Devices that hold source addresses only (ipset sets, pf tables, RouterOS address lists: see
-- each adapter's unsupported()) do not take a rule that names a destination, protocol or port:
-- the row would fail there for good, and the rule is active once the devices that can carry
-- it have it. Nor does a device whose adapter option ipv6 is false (Device.ipv6 = 0) take an
-- IPv6 rule. (The same tests wherever a device is given rows: Device_after_insert,
-- Device_after_update, Rule_before_update.)
CREATE TRIGGER Rule_after_insert AFTER INSERT ON Rule FOR EACH ROW
BEGIN
  IF NEW.status IN ('pending', 'active') AND NEW.targeted = 0 THEN
    INSERT INTO RuleDevice (rule_id, device_id, desired, state, next_attempt_at)
    SELECT NEW.id, d.id, 'present', 'pending', UTC_TIMESTAMP(3)
    FROM Device d
    WHERE d.enabled = 1 AND (d.applies_to = 'any' OR d.applies_to = NEW.scope)
      AND (d.adapter NOT IN ('ipset', 'pf', 'routeros') OR (NEW.dst_ip IS NULL AND NEW.dst_port IS NULL AND NEW.proto IS NULL))
      AND (d.ipv6 = 1 OR LENGTH(NEW.src_ip) = 4);
  END IF;
END
