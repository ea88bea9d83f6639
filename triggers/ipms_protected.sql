-- What protects any address of a range from being blocked, or NULL: a whitelist entry, a
-- honeypot address, a sensor's or a device's management address. The same set as the
-- ProtectedRange view, but as indexed look-ups in one statement: a UNION view is materialised
-- on every use, and every statement in a routine has a fixed cost, which a 100k-entry
-- blacklist import pays 100k times.
CREATE PROCEDURE ipms_protected(IN p_first VARBINARY(16), IN p_last VARBINARY(16), OUT p_what VARCHAR(200))
BEGIN
  SET p_what = COALESCE(
    (SELECT CONCAT('whitelist ', w.cidr) FROM Whitelist w
     WHERE w.first_ip <= p_last AND w.last_ip >= p_first AND LENGTH(w.first_ip) = LENGTH(p_first) LIMIT 1),
    (SELECT CONCAT('honeypot ', s.name, ' ', INET6_NTOA(v.address)) FROM VirtHost v JOIN Sensor s ON s.id = v.sensor_id
     WHERE v.address BETWEEN p_first AND p_last AND LENGTH(v.address) = LENGTH(p_first) LIMIT 1),
    (SELECT CONCAT('sensor ', s.name) FROM Sensor s
     WHERE s.address BETWEEN p_first AND p_last AND LENGTH(s.address) = LENGTH(p_first) LIMIT 1),
    (SELECT CONCAT('device ', d.name) FROM Device d
     WHERE INET6_ATON(d.host) BETWEEN p_first AND p_last AND LENGTH(INET6_ATON(d.host)) = LENGTH(p_first) LIMIT 1));
END
