-- Removing a blacklist entry drops the rule it made.
CREATE TRIGGER Blacklist_after_delete AFTER DELETE ON Blacklist FOR EACH ROW
BEGIN
  UPDATE Rule
  SET status = 'dropped'
  WHERE blacklist_id = OLD.id AND origin = 'blacklist' AND status IN ('pending', 'active', 'disabled');
END
