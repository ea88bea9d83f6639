-- A new inside network: the open rules in it become internal (see ipms_rescope).
CREATE TRIGGER Network_after_insert AFTER INSERT ON Network FOR EACH ROW
BEGIN
  CALL ipms_rescope(NEW.first_ip, NEW.last_ip);
END
