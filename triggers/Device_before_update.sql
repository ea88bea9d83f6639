-- A device's new host is stored as every part of ipms reads it (see ipms_device_host).
CREATE TRIGGER Device_before_update BEFORE UPDATE ON Device FOR EACH ROW
BEGIN
  IF NOT (NEW.host <=> OLD.host) THEN
    CALL ipms_device_host(NEW.host);
  END IF;
END
