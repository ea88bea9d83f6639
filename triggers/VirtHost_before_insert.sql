-- A honeypot protects its address only inside a range an admin approved for its sensor
-- (SensorNet): `approved` is derived here, whatever the writer (a sensor's account) put in it.
CREATE TRIGGER VirtHost_before_insert BEFORE INSERT ON VirtHost FOR EACH ROW
BEGIN
  SET NEW.approved = EXISTS (SELECT 1 FROM SensorNet n
                             WHERE n.sensor_id = NEW.sensor_id AND n.first_ip <= NEW.address
                               AND n.last_ip >= NEW.address AND LENGTH(n.first_ip) = LENGTH(NEW.address));
END
