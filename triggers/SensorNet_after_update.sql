-- A range edited in place: what was approved by its old extent is derived again, then what its
-- new extent holds (see SensorNet_after_delete and SensorNet_after_insert).
CREATE TRIGGER SensorNet_after_update AFTER UPDATE ON SensorNet FOR EACH ROW
BEGIN
  IF NOT (NEW.first_ip <=> OLD.first_ip) OR NOT (NEW.last_ip <=> OLD.last_ip) OR NOT (NEW.sensor_id <=> OLD.sensor_id) THEN
    UPDATE VirtHost SET approved = 0
    WHERE sensor_id = OLD.sensor_id AND address BETWEEN OLD.first_ip AND OLD.last_ip
      AND LENGTH(address) = LENGTH(OLD.first_ip) AND approved = 1;
    UPDATE VirtHost SET approved = 1
    WHERE sensor_id = NEW.sensor_id AND address BETWEEN NEW.first_ip AND NEW.last_ip
      AND LENGTH(address) = LENGTH(NEW.first_ip) AND approved = 0;
  END IF;
END
