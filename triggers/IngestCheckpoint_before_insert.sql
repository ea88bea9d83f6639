-- A sensor's own account keeps its own sensor's checkpoints only (see ipms_sensor_account).
CREATE TRIGGER IngestCheckpoint_before_insert BEFORE INSERT ON IngestCheckpoint FOR EACH ROW
BEGIN
  CALL ipms_sensor_account(NEW.sensor_id);
END
