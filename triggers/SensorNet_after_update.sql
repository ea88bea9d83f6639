-- A range edited in place: as a revoke of the old range and an approval of the new one (see
-- SensorNet_after_delete and SensorNet_after_insert).
CREATE TRIGGER SensorNet_after_update AFTER UPDATE ON SensorNet FOR EACH ROW
BEGIN
  IF NOT (NEW.cidr <=> OLD.cidr) OR NOT (NEW.sensor_id <=> OLD.sensor_id) THEN
    DELETE FROM Whitelist
    WHERE cidr = OLD.cidr AND created_by = 'ipms-honeypots' AND NOT EXISTS (SELECT 1 FROM SensorNet n WHERE n.cidr = OLD.cidr);
    INSERT INTO Whitelist (cidr, comment, created_by)
    VALUES (NEW.cidr, LEFT(CONCAT('honeypot range of sensor ', (SELECT s.name FROM Sensor s WHERE s.id = NEW.sensor_id)), 255),
            'ipms-honeypots')
    ON DUPLICATE KEY UPDATE cidr = cidr;
    CALL ipms_honeypots_rederive(OLD.sensor_id, OLD.first_ip, OLD.last_ip);
    CALL ipms_honeypots_rederive(NEW.sensor_id, NEW.first_ip, NEW.last_ip);
  END IF;
END
