-- Whitelisting a range drops every open rule that would block any address in it. A prefix
-- length new to the whitelist is listed for ipms_protected's look-ups (see WhitelistPrefix).
CREATE TRIGGER Whitelist_after_insert AFTER INSERT ON Whitelist FOR EACH ROW
BEGIN
  INSERT INTO WhitelistPrefix (len, prefix) VALUES (LENGTH(NEW.first_ip), NEW.prefix)
  ON DUPLICATE KEY UPDATE prefix = prefix;
  CALL ipms_drop_covering(NEW.first_ip, NEW.last_ip, CONCAT('whitelisted ', NEW.cidr));
END
