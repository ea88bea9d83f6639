-- A device's host is stored as every part of ipms reads it (see ipms_device_host), and its
-- adapter and transport are ones the worker has (see ipms_device_kind).
CREATE TRIGGER Device_before_insert BEFORE INSERT ON Device FOR EACH ROW
BEGIN
  CALL ipms_device_host(NEW.host);
  CALL ipms_device_kind(NEW.adapter, NEW.transport);
END
