-- An entry edited to cover more (or other) addresses drops the open rules it now covers, and
-- its prefix length is listed for ipms_protected's look-ups (see WhitelistPrefix).
CREATE TRIGGER Whitelist_after_update AFTER UPDATE ON Whitelist FOR EACH ROW
BEGIN
  IF NOT (NEW.first_ip <=> OLD.first_ip) OR NOT (NEW.last_ip <=> OLD.last_ip) THEN
    INSERT INTO WhitelistPrefix (len, prefix) VALUES (LENGTH(NEW.first_ip), NEW.prefix)
    ON DUPLICATE KEY UPDATE prefix = prefix;
    CALL ipms_drop_covering(NEW.first_ip, NEW.last_ip, CONCAT('whitelisted ', NEW.cidr));
  END IF;
END
