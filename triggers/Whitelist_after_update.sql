-- An entry edited to cover more (or other) addresses drops the open rules it now covers.
CREATE TRIGGER Whitelist_after_update AFTER UPDATE ON Whitelist FOR EACH ROW
BEGIN
  IF NOT (NEW.first_ip <=> OLD.first_ip) OR NOT (NEW.last_ip <=> OLD.last_ip) THEN
    CALL ipms_drop_covering(NEW.first_ip, NEW.last_ip, CONCAT('whitelisted ', NEW.cidr));
  END IF;
END
