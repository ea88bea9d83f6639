-- A revoked range: its whitelist entry goes (if ipms made it, and no other sensor's range is
-- the same), and its honeypots protect nothing any more, unless another approved range of the
-- sensor holds them.
CREATE TRIGGER SensorNet_after_delete AFTER DELETE ON SensorNet FOR EACH ROW
BEGIN
  DELETE FROM Whitelist
  WHERE cidr = OLD.cidr AND created_by = 'ipms-honeypots' AND NOT EXISTS (SELECT 1 FROM SensorNet n WHERE n.cidr = OLD.cidr);
  CALL ipms_honeypots_rederive(OLD.sensor_id, OLD.first_ip, OLD.last_ip);
END
