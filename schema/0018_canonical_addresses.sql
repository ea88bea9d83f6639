-- Management and honeypot addresses in one form. A sensor's address or a device's host written
-- in SQL as an IPv4-mapped IPv6 address (::ffff:192.0.2.10) was compared with IPv4 rules
-- only as 16 bytes, so it protected nothing: a threshold or a manual rule blocked it, and the
-- worker sent a rule for a device's own management address to that device. The triggers now
-- store the IPv4 form (see Sensor_before_insert, VirtHost_before_insert, ipms_device_host);
-- rows written before are put in that form here. (Each UPDATE fires the AFTER triggers of
-- the version being upgraded from, which drop the open rules over a new management address.)
UPDATE Sensor SET address = RIGHT(address, 4)
WHERE LENGTH(address) = 16 AND LEFT(address, 12) = UNHEX('00000000000000000000FFFF');

-- (a sensor's honeypot already listed in both forms keeps the mapped twin, which then matches nothing)
UPDATE IGNORE VirtHost SET address = RIGHT(address, 4)
WHERE LENGTH(address) = 16 AND LEFT(address, 12) = UNHEX('00000000000000000000FFFF');

UPDATE Device SET host = INET6_NTOA(RIGHT(INET6_ATON(host), 4))
WHERE IS_IPV6(host) AND LEFT(INET6_ATON(host), 12) = UNHEX('00000000000000000000FFFF');
