-- Whether a honeypot address of a sensor lies inside a range an admin approved for that sensor
-- (SensorNet): only then does it protect its address from blocking (see schema 0013).
CREATE PROCEDURE ipms_honeypot_approved(IN p_sensor INT UNSIGNED, IN p_address VARBINARY(16), OUT p_approved TINYINT)
BEGIN
  SET p_approved = EXISTS (SELECT 1 FROM SensorNet n
                           WHERE n.sensor_id = p_sensor AND n.first_ip <= p_address
                             AND n.last_ip >= p_address AND LENGTH(n.first_ip) = LENGTH(p_address));
END
