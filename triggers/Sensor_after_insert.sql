-- A sensor's management address is never blocked: a rule that came first is dropped.
CREATE TRIGGER Sensor_after_insert AFTER INSERT ON Sensor FOR EACH ROW
BEGIN
  IF NEW.address IS NOT NULL THEN
    CALL ipms_drop_covering(NEW.address, NEW.address, CONCAT('sensor ', NEW.name));
  END IF;
END
