-- A rule comes out of the table only once it is off every device: deleted while a device holds
-- it, its RuleDevice rows would go with it (ON DELETE CASCADE) and nothing would ever take the
-- block off. Drop it first (UPDATE Rule SET status = 'dropped'); the worker takes it off, then
-- it can be deleted (ipms db prune --rules deletes such rules). A rule of a device being
-- removed loses its row of that device with the device, not through here.
CREATE TRIGGER Rule_before_delete BEFORE DELETE ON Rule FOR EACH ROW
BEGIN
  DECLARE v_msg VARCHAR(255);
  IF EXISTS (SELECT 1 FROM RuleDevice rd WHERE rd.rule_id = OLD.id AND rd.state <> 'removed'
               AND (rd.desired = 'present' OR rd.applied_at IS NOT NULL)) THEN
    -- (at most 128 characters: MySQL refuses a longer MESSAGE_TEXT with another error)
    SET v_msg = LEFT(CONCAT('ipms: refused to delete rule ', OLD.id, ': a device has it (or may have it); ',
                            'drop it first, delete it once off every device'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
END
