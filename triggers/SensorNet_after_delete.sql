-- A revoked range: its honeypots protect nothing any more, unless another approved range of
-- the sensor holds them.
CREATE TRIGGER SensorNet_after_delete AFTER DELETE ON SensorNet FOR EACH ROW
BEGIN
  CALL ipms_honeypots_rederive(OLD.sensor_id, OLD.first_ip, OLD.last_ip);
END
