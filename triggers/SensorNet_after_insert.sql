-- An approved range: the sensor's honeypots in it protect their addresses from now on (and
-- VirtHost_after_update drops the rules over them). VirtHost_before_update derives `approved`.
CREATE TRIGGER SensorNet_after_insert AFTER INSERT ON SensorNet FOR EACH ROW
BEGIN
  UPDATE VirtHost SET approved = 1
  WHERE sensor_id = NEW.sensor_id AND address BETWEEN NEW.first_ip AND NEW.last_ip
    AND LENGTH(address) = LENGTH(NEW.first_ip) AND approved = 0;
END
