-- A device's host is stored as every part of ipms reads it (see ipms_device_host).
CREATE TRIGGER Device_before_insert BEFORE INSERT ON Device FOR EACH ROW
BEGIN
  CALL ipms_device_host(NEW.host);
END
