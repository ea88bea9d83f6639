-- Honeypot ranges an admin has approved. A honeypot is never blocked; a sensor's account
-- registers its honeypots itself (from honeyd.conf and --honeypot-net), and registering one
-- dropped the rules over it, so until now whoever held a sensor's password (the host an
-- attacker is most likely to take) could shield any address, and unblock it, network-wide.
-- Now an admin approves ranges for a sensor's honeypots (SensorNet, which sensor accounts
-- cannot write), and an approved range is whitelisted (an entry created_by 'ipms-honeypots',
-- kept by the SensorNet triggers): approving it drops the rules over it, and no rule may cover
-- it. A honeypot protects its address only inside such a range (VirtHost.approved, kept by the
-- triggers from SensorNet, never from what a writer puts in it); registering one drops nothing.
CREATE TABLE SensorNet (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sensor_id INT UNSIGNED NOT NULL,
  -- canonical text form (network address and prefix); first_ip/last_ip are filled from it
  cidr VARCHAR(43) NOT NULL,
  first_ip VARBINARY(16) NULL,
  last_ip VARBINARY(16) NULL,
  prefix TINYINT UNSIGNED NULL,
  comment VARCHAR(255) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  created_by VARCHAR(64) NULL,
  UNIQUE KEY uq_sensornet (sensor_id, cidr),
  KEY ix_sensornet_range (sensor_id, first_ip, last_ip),
  CONSTRAINT fk_sensornet_sensor FOREIGN KEY (sensor_id) REFERENCES Sensor (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE VirtHost ADD COLUMN approved TINYINT(1) NOT NULL DEFAULT 0;

-- Honeypots registered before this version keep protecting their address: each is approved as
-- a range of its own (an admin may replace them with wider ranges and revoke these).
-- (An IPv4-mapped address, which earlier versions could store, protected nothing: left out.)
INSERT INTO SensorNet (sensor_id, cidr, first_ip, last_ip, prefix, comment, created_by)
SELECT v.sensor_id, CONCAT(INET6_NTOA(v.address), '/', LENGTH(v.address) * 8), v.address, v.address,
       LENGTH(v.address) * 8, 'registered before honeypot approval', 'ipms-migration'
FROM VirtHost v
WHERE LENGTH(v.address) = 4
   OR (LENGTH(v.address) = 16 AND LEFT(v.address, 12) <> UNHEX('00000000000000000000FFFF'));

UPDATE VirtHost v SET v.approved = 1
WHERE EXISTS (SELECT 1 FROM SensorNet n WHERE n.sensor_id = v.sensor_id AND n.first_ip = v.address);

-- and whitelisted, as an approval does (the SensorNet triggers come after this file)
INSERT INTO Whitelist (cidr, comment, created_by)
SELECT DISTINCT n.cidr, 'honeypot range (approved before this version)', 'ipms-honeypots'
FROM SensorNet n
WHERE NOT EXISTS (SELECT 1 FROM Whitelist w WHERE w.cidr = n.cidr);

CREATE OR REPLACE VIEW VirtHostView AS
SELECT v.id, v.sensor_id, s.name AS sensor, INET6_NTOA(v.address) AS address, p.name AS profile, v.approved
FROM VirtHost v JOIN Sensor s ON s.id = v.sensor_id LEFT JOIN Profile p ON p.id = v.profile_id;

CREATE VIEW SensorNetView AS
SELECT n.id, n.sensor_id, s.name AS sensor, n.cidr, INET6_NTOA(n.first_ip) AS first, INET6_NTOA(n.last_ip) AS last,
       n.comment, n.created_at, n.created_by
FROM SensorNet n JOIN Sensor s ON s.id = n.sensor_id;

-- Every address range that must never be blocked, with the reason.
CREATE OR REPLACE VIEW ProtectedRange AS
SELECT IF(w.created_by = 'ipms-honeypots', 'honeypot range', 'whitelist') AS reason, w.cidr AS what, w.first_ip, w.last_ip
FROM Whitelist w
UNION ALL
SELECT 'sensor', s.name, s.address, s.address FROM Sensor s WHERE s.address IS NOT NULL
UNION ALL
SELECT 'honeypot', CONCAT(s.name, ' ', INET6_NTOA(v.address)), v.address, v.address
FROM VirtHost v JOIN Sensor s ON s.id = v.sensor_id WHERE v.approved = 1
UNION ALL
-- (INET6_ATON of a host name warns on MySQL, and a writing statement that reads the view in
-- strict mode fails: only text that is an address reaches it)
SELECT 'device', d.name, INET6_ATON(IF(IS_IPV4(d.host) OR IS_IPV6(d.host), d.host, NULL)),
       INET6_ATON(IF(IS_IPV4(d.host) OR IS_IPV6(d.host), d.host, NULL))
FROM Device d WHERE IS_IPV4(d.host) OR IS_IPV6(d.host);
