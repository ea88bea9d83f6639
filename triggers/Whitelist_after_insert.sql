-- Whitelisting a range drops every open rule that would block any address in it.
CREATE TRIGGER Whitelist_after_insert AFTER INSERT ON Whitelist FOR EACH ROW
BEGIN
  CALL ipms_drop_covering(NEW.first_ip, NEW.last_ip, CONCAT('whitelisted ', NEW.cidr));
END
