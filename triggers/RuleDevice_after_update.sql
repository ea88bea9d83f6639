-- A rule becomes active once every device that should have it has applied it.
CREATE TRIGGER RuleDevice_after_update AFTER UPDATE ON RuleDevice FOR EACH ROW
BEGIN
  IF NEW.state = 'applied' AND OLD.state <> 'applied' AND NEW.desired = 'present' THEN
    UPDATE Rule r
    SET r.status = 'active'
    WHERE r.id = NEW.rule_id AND r.status = 'pending'
      AND NOT EXISTS (SELECT 1 FROM RuleDevice x
                      WHERE x.rule_id = NEW.rule_id AND (x.state <> 'applied' OR x.desired <> 'present'));
  END IF;
END
