-- A sensor's new management address is never blocked: a rule that came first is dropped.
CREATE TRIGGER Sensor_after_update AFTER UPDATE ON Sensor FOR EACH ROW
BEGIN
  IF NEW.address IS NOT NULL AND NOT (NEW.address <=> OLD.address) THEN
    CALL ipms_drop_covering(NEW.address, NEW.address, CONCAT('sensor ', NEW.name));
  END IF;
END
