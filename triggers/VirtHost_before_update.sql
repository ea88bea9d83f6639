-- `approved` is derived again on every update (see VirtHost_before_insert): the SensorNet
-- triggers touch the honeypots of a range they approve or revoke, and this decides.
CREATE TRIGGER VirtHost_before_update BEFORE UPDATE ON VirtHost FOR EACH ROW
BEGIN
  SET NEW.approved = EXISTS (SELECT 1 FROM SensorNet n
                             WHERE n.sensor_id = NEW.sensor_id AND n.first_ip <= NEW.address
                               AND n.last_ip >= NEW.address AND LENGTH(n.first_ip) = LENGTH(NEW.address));
END
