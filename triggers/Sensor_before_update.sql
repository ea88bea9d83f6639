-- A renamed sensor's new name is checked (see ipms_sensor_name).
CREATE TRIGGER Sensor_before_update BEFORE UPDATE ON Sensor FOR EACH ROW
BEGIN
  IF NOT (NEW.name <=> OLD.name) THEN
    CALL ipms_sensor_name(NEW.name);
  END IF;
END
