-- A sensor's own account keeps its own sensor's checkpoints only (see ipms_sensor_account).
CREATE TRIGGER IngestCheckpoint_before_update BEFORE UPDATE ON IngestCheckpoint FOR EACH ROW
BEGIN
  CALL ipms_sensor_account(OLD.sensor_id);
  IF NOT (NEW.sensor_id <=> OLD.sensor_id) THEN
    CALL ipms_sensor_account(NEW.sensor_id);
  END IF;
END
