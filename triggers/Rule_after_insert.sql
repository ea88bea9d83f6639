-- Every enabled device that takes the rule gets a RuleDevice row. A rule whose devices were
-- chosen by hand (targeted = 1) gets its rows from whoever chose them.
CREATE TRIGGER Rule_after_insert AFTER INSERT ON Rule FOR EACH ROW
BEGIN
  IF NEW.status IN ('pending', 'active') AND NEW.targeted = 0 THEN
    INSERT INTO RuleDevice (rule_id, device_id, desired, state, next_attempt_at)
    SELECT NEW.id, d.id, 'present', 'pending', UTC_TIMESTAMP(3)
    FROM Device d
    WHERE d.enabled = 1 AND (d.applies_to = 'any' OR d.applies_to = NEW.scope);
  END IF;
END
