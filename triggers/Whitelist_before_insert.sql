-- first_ip, last_ip and prefix from the cidr text, and the canonical text (see ipms_cidr_fill);
-- no entry too wide (see ipms_whitelist_width).
CREATE TRIGGER Whitelist_before_insert BEFORE INSERT ON Whitelist FOR EACH ROW
BEGIN
  CALL ipms_cidr_fill(NEW.cidr, NEW.first_ip, NEW.last_ip, NEW.prefix);
  CALL ipms_whitelist_width(NEW.cidr, NEW.first_ip, NEW.prefix);
END
