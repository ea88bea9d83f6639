-- A honeypot range of a sensor approved (p_on = 1) or revoked (p_on = 0). Approved, it is
-- whitelisted (an entry created_by 'ipms-honeypots'; an entry of that range already there is
-- left as it is): the Whitelist triggers drop the rules over it, and none may cover it after.
-- Revoked, that entry goes, if ipms made it and no other sensor's range is the same. Either
-- way the sensor's honeypots in it are written again, and VirtHost_before_update derives
-- `approved` from the ranges there are now.
CREATE PROCEDURE ipms_honeypot_range(IN p_on TINYINT, IN p_sensor INT UNSIGNED, IN p_cidr VARCHAR(64),
                                     IN p_first VARBINARY(16), IN p_last VARBINARY(16))
BEGIN
  IF p_on = 1 THEN
    INSERT INTO Whitelist (cidr, comment, created_by)
    VALUES (p_cidr, LEFT(CONCAT('honeypot range of sensor ', (SELECT s.name FROM Sensor s WHERE s.id = p_sensor)), 255),
            'ipms-honeypots')
    ON DUPLICATE KEY UPDATE cidr = cidr;
  ELSE
    DELETE FROM Whitelist
    WHERE cidr = p_cidr AND created_by = 'ipms-honeypots' AND NOT EXISTS (SELECT 1 FROM SensorNet n WHERE n.cidr = p_cidr);
  END IF;
  UPDATE VirtHost SET approved = approved
  WHERE sensor_id = p_sensor AND address BETWEEN p_first AND p_last AND LENGTH(address) = LENGTH(p_first);
END
