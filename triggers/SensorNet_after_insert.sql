-- An approved range: the sensor's honeypots in it protect their addresses from now on (and
-- VirtHost_after_update drops the rules over them).
CREATE TRIGGER SensorNet_after_insert AFTER INSERT ON SensorNet FOR EACH ROW
BEGIN
  CALL ipms_honeypots_rederive(NEW.sensor_id, NEW.first_ip, NEW.last_ip);
END
