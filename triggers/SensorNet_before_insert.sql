-- first_ip, last_ip and prefix from the cidr text, and the canonical text (see ipms_cidr_fill).
CREATE TRIGGER SensorNet_before_insert BEFORE INSERT ON SensorNet FOR EACH ROW
BEGIN
  CALL ipms_cidr_fill(NEW.cidr, NEW.first_ip, NEW.last_ip, NEW.prefix);
END
