-- A revoked range: its honeypots protect nothing any more, unless another approved range of
-- the sensor holds them (VirtHost_before_update derives `approved` again from what is left).
CREATE TRIGGER SensorNet_after_delete AFTER DELETE ON SensorNet FOR EACH ROW
BEGIN
  UPDATE VirtHost SET approved = 0
  WHERE sensor_id = OLD.sensor_id AND address BETWEEN OLD.first_ip AND OLD.last_ip
    AND LENGTH(address) = LENGTH(OLD.first_ip) AND approved = 1;
END
