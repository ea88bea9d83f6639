-- Fill first_ip, last_ip and prefix from the cidr text and store the canonical text, so that a
-- DBA can write INSERT INTO Network (cidr) VALUES ('198.51.100.0/24') and nothing more.
CREATE TRIGGER Network_before_insert BEFORE INSERT ON Network FOR EACH ROW
BEGIN
  DECLARE v_first VARBINARY(16);
  DECLARE v_last VARBINARY(16);
  DECLARE v_prefix INT;
  CALL ipms_cidr(NEW.cidr, v_first, v_last, v_prefix);
  SET NEW.first_ip = v_first, NEW.last_ip = v_last, NEW.prefix = v_prefix,
      NEW.cidr = CONCAT(INET6_NTOA(v_first), '/', v_prefix);
END
