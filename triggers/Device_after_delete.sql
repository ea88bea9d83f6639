-- A removed device's RuleDevice rows go with it (ON DELETE CASCADE, which fires no trigger), so
-- a pending rule that only waited for that device is active now if every device left that
-- takes it has applied it (as when a device is disabled; see Device_after_update). By then the
-- rows are gone, so every pending rule is looked at: removing a device is rare.
CREATE TRIGGER Device_after_delete AFTER DELETE ON Device FOR EACH ROW
BEGIN
  UPDATE Rule r
  SET r.status = 'active'
  WHERE r.status = 'pending'
    AND EXISTS (SELECT 1 FROM RuleDevice y WHERE y.rule_id = r.id AND y.desired = 'present')
    AND NOT EXISTS (SELECT 1 FROM RuleDevice z WHERE z.rule_id = r.id AND z.desired = 'present' AND z.state <> 'applied');
END
