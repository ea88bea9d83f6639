-- A rule becomes active once every device that should have it has applied it (a device that
-- no longer takes it, its row desired 'absent', does not hold it back).
-- The worker records a whole batch at once and then activates its rules in one statement;
-- it sets @ipms_batch_record on its session while it does, so that this trigger does not run
-- one UPDATE of Rule per row (100k rows: most of the time of a 100k-rule batch).
-- The first test is alone in its IF: the items of an IF are prepared again on every row, and
-- the worker's claim of a 100k-row batch (no change of state) passes here 100k times.
CREATE TRIGGER RuleDevice_after_update AFTER UPDATE ON RuleDevice FOR EACH ROW
BEGIN
  IF NEW.state <> OLD.state THEN
    IF @ipms_batch_record IS NULL AND NEW.state = 'applied' AND NEW.desired = 'present' THEN
      UPDATE Rule r
      SET r.status = 'active'
      WHERE r.id = NEW.rule_id AND r.status = 'pending'
        AND NOT EXISTS (SELECT 1 FROM RuleDevice x
                        WHERE x.rule_id = NEW.rule_id AND x.desired = 'present' AND x.state <> 'applied');
    END IF;
  END IF;
END
