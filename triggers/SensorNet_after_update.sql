-- A range edited in place: what its old extent held, then what its new extent holds, derived
-- again (see SensorNet_after_delete and SensorNet_after_insert).
CREATE TRIGGER SensorNet_after_update AFTER UPDATE ON SensorNet FOR EACH ROW
BEGIN
  IF NOT (NEW.first_ip <=> OLD.first_ip) OR NOT (NEW.last_ip <=> OLD.last_ip) OR NOT (NEW.sensor_id <=> OLD.sensor_id) THEN
    CALL ipms_honeypots_rederive(OLD.sensor_id, OLD.first_ip, OLD.last_ip);
    CALL ipms_honeypots_rederive(NEW.sensor_id, NEW.first_ip, NEW.last_ip);
  END IF;
END
