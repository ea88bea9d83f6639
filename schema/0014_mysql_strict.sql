-- MySQL 8 in strict mode: INET6_ATON of a device's host name (not an address) warns, and a
-- statement that writes turns the warning into an error; ProtectedRange is read by such
-- statements. Only text that is an address reaches INET6_ATON now.
CREATE OR REPLACE VIEW ProtectedRange AS
SELECT 'whitelist' AS reason, w.cidr AS what, w.first_ip, w.last_ip FROM Whitelist w
UNION ALL
SELECT 'sensor', s.name, s.address, s.address FROM Sensor s WHERE s.address IS NOT NULL
UNION ALL
SELECT 'honeypot', CONCAT(s.name, ' ', INET6_NTOA(v.address)), v.address, v.address
FROM VirtHost v JOIN Sensor s ON s.id = v.sensor_id WHERE v.approved = 1
UNION ALL
SELECT 'device', d.name, INET6_ATON(IF(IS_IPV4(d.host) OR IS_IPV6(d.host), d.host, NULL)),
       INET6_ATON(IF(IS_IPV4(d.host) OR IS_IPV6(d.host), d.host, NULL))
FROM Device d WHERE IS_IPV4(d.host) OR IS_IPV6(d.host);
