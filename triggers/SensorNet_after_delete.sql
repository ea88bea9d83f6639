-- A revoked range: its whitelist entry goes, and its honeypots protect nothing any more unless
-- another approved range of the sensor holds them (see ipms_honeypot_range).
CREATE TRIGGER SensorNet_after_delete AFTER DELETE ON SensorNet FOR EACH ROW
BEGIN
  CALL ipms_honeypot_range(0, OLD.sensor_id, OLD.cidr, OLD.first_ip, OLD.last_ip);
END
