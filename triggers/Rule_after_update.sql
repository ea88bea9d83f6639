-- The DBA's lever: changing Rule.status in plain SQL is enough. Closing a rule (dropped,
-- disabled, expired) makes every device's row desired = 'absent'; re-opening it (pending,
-- active) makes them 'present' again and fills in devices added meanwhile. Each change bumps
-- `version`, so a worker's result for the previous wish is not taken for the new one.
-- pending <-> active changes nothing here: RuleDevice's own trigger moves a rule to active.
-- A new action or expiry of an open rule is put on every device again.
CREATE TRIGGER Rule_after_update AFTER UPDATE ON Rule FOR EACH ROW
BEGIN
  DECLARE v_was_on INT;
  DECLARE v_is_on INT;
  SET v_was_on = OLD.status IN ('pending', 'active');
  SET v_is_on = NEW.status IN ('pending', 'active');
  IF v_was_on = 1 AND v_is_on = 0 THEN
    UPDATE RuleDevice
    SET desired = 'absent', state = 'pending', attempts = 0, last_error = NULL,
        next_attempt_at = UTC_TIMESTAMP(3), version = version + 1, updated_at = UTC_TIMESTAMP(3)
    WHERE rule_id = NEW.id AND desired = 'present';
  ELSEIF v_was_on = 0 AND v_is_on = 1 THEN
    UPDATE RuleDevice
    SET desired = 'present', state = 'pending', attempts = 0, last_error = NULL,
        next_attempt_at = UTC_TIMESTAMP(3), version = version + 1, updated_at = UTC_TIMESTAMP(3)
    WHERE rule_id = NEW.id AND desired = 'absent';
    IF NEW.targeted = 0 THEN
      INSERT INTO RuleDevice (rule_id, device_id, desired, state, next_attempt_at)
      SELECT NEW.id, d.id, 'present', 'pending', UTC_TIMESTAMP(3)
      FROM Device d
      WHERE d.enabled = 1 AND (d.applies_to = 'any' OR d.applies_to = NEW.scope)
        AND NOT EXISTS (SELECT 1 FROM RuleDevice x WHERE x.rule_id = NEW.id AND x.device_id = d.id);
    END IF;
  ELSEIF v_is_on = 1 AND (NOT (NEW.action <=> OLD.action) OR NOT (NEW.expires_at <=> OLD.expires_at)) THEN
    UPDATE RuleDevice
    SET state = 'pending', attempts = 0, last_error = NULL,
        next_attempt_at = UTC_TIMESTAMP(3), version = version + 1, updated_at = UTC_TIMESTAMP(3)
    WHERE rule_id = NEW.id AND desired = 'present';
  END IF;
END
