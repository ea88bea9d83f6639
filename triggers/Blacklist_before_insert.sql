-- first_ip, last_ip and prefix from the cidr text, the canonical text, and no inside ranges
-- (see ipms_blacklist_fill).
CREATE TRIGGER Blacklist_before_insert BEFORE INSERT ON Blacklist FOR EACH ROW
BEGIN
  CALL ipms_blacklist_fill(NEW.cidr, NEW.first_ip, NEW.last_ip, NEW.prefix);
END
