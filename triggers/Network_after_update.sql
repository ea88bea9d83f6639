-- A network edited: feed entries over its new range go (see Network_after_insert), and the
-- open rules in its old and its new range take their scope again.
CREATE TRIGGER Network_after_update AFTER UPDATE ON Network FOR EACH ROW
BEGIN
  IF NOT (NEW.first_ip <=> OLD.first_ip) OR NOT (NEW.last_ip <=> OLD.last_ip) THEN
    DELETE FROM Blacklist
    WHERE LENGTH(first_ip) = LENGTH(NEW.first_ip) AND first_ip <= NEW.last_ip AND last_ip >= NEW.first_ip;
    CALL ipms_rescope(OLD.first_ip, OLD.last_ip);
    CALL ipms_rescope(NEW.first_ip, NEW.last_ip);
  END IF;
END
