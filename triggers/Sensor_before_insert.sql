-- Sensor names are checked (see ipms_sensor_name).
CREATE TRIGGER Sensor_before_insert BEFORE INSERT ON Sensor FOR EACH ROW
BEGIN
  CALL ipms_sensor_name(NEW.name);
END
