-- An approved range is whitelisted (an entry created_by 'ipms-honeypots'; one there already is
-- left as it is): the Whitelist triggers drop the rules over it, and none may cover it from now
-- on. The sensor's honeypots in it protect their addresses (VirtHost.approved) from now on.
CREATE TRIGGER SensorNet_after_insert AFTER INSERT ON SensorNet FOR EACH ROW
BEGIN
  INSERT INTO Whitelist (cidr, comment, created_by)
  VALUES (NEW.cidr, LEFT(CONCAT('honeypot range of sensor ', (SELECT s.name FROM Sensor s WHERE s.id = NEW.sensor_id)), 255),
          'ipms-honeypots')
  ON DUPLICATE KEY UPDATE cidr = cidr;
  CALL ipms_honeypots_rederive(NEW.sensor_id, NEW.first_ip, NEW.last_ip);
END
