-- A honeypot protects its address only inside a range an admin approved for its sensor
-- (SensorNet): `approved` is derived here, whatever the writer (a sensor's account) put in it.
CREATE TRIGGER VirtHost_before_insert BEFORE INSERT ON VirtHost FOR EACH ROW
BEGIN
  CALL ipms_honeypot_approved(NEW.sensor_id, NEW.address, NEW.approved);
END
