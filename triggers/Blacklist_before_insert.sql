-- Fill first_ip, last_ip and prefix from the cidr text and store the canonical text, so that a
-- DBA can write INSERT INTO Blacklist (cidr) VALUES ('198.51.100.0/24') and nothing more.
CREATE TRIGGER Blacklist_before_insert BEFORE INSERT ON Blacklist FOR EACH ROW
BEGIN
  DECLARE v_first VARBINARY(16);
  DECLARE v_last VARBINARY(16);
  DECLARE v_prefix INT;
  -- A writer that gives a single address's text and bytes consistently (the CLI does) skips
  -- the parse; anything else is parsed and canonicalised.
  IF NEW.first_ip IS NOT NULL AND LENGTH(NEW.first_ip) IN (4, 16) AND NEW.prefix = LENGTH(NEW.first_ip) * 8
     AND NEW.cidr = CONCAT(INET6_NTOA(NEW.first_ip), '/', NEW.prefix) THEN
    SET NEW.last_ip = NEW.first_ip;
  ELSE
    CALL ipms_cidr(NEW.cidr, v_first, v_last, v_prefix);
    SET NEW.first_ip = v_first, NEW.last_ip = v_last, NEW.prefix = v_prefix,
        NEW.cidr = CONCAT(INET6_NTOA(v_first), '/', v_prefix);
  END IF;
END
