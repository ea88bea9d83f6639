-- Internal ranges (RFC 1918 private, RFC 4193 unique-local, loopback, link-local).
INSERT INTO Network (cidr, first_ip, last_ip, prefix, description) VALUES
  ('10.0.0.0/8', INET6_ATON('10.0.0.0'), INET6_ATON('10.255.255.255'), 8, 'private (RFC 1918)'),
  ('172.16.0.0/12', INET6_ATON('172.16.0.0'), INET6_ATON('172.31.255.255'), 12, 'private (RFC 1918)'),
  ('192.168.0.0/16', INET6_ATON('192.168.0.0'), INET6_ATON('192.168.255.255'), 16, 'private (RFC 1918)'),
  ('127.0.0.0/8', INET6_ATON('127.0.0.0'), INET6_ATON('127.255.255.255'), 8, 'loopback'),
  ('169.254.0.0/16', INET6_ATON('169.254.0.0'), INET6_ATON('169.254.255.255'), 16, 'link-local'),
  ('fc00::/7', INET6_ATON('fc00::'), INET6_ATON('fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 7, 'unique-local (RFC 4193)'),
  ('::1/128', INET6_ATON('::1'), INET6_ATON('::1'), 128, 'loopback'),
  ('fe80::/10', INET6_ATON('fe80::'), INET6_ATON('febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 10, 'link-local');

-- Views with addresses as text, for people and for the DBA.
CREATE VIEW SensorLogView AS
SELECT l.id, l.sensor_id, s.name AS sensor, l.ts, l.kind, l.proto,
       INET6_NTOA(l.src_ip) AS src, l.src_port, INET6_NTOA(l.dst_ip) AS dst, l.dst_port,
       l.icmp_type, l.icmp_code, l.length, l.tcp_flags, l.os, l.remark, l.bytes_in, l.bytes_out,
       l.start_id, l.raw, l.inserted_at
FROM SensorLog l JOIN Sensor s ON s.id = l.sensor_id;

CREATE VIEW RuleView AS
SELECT r.id,
       IF(r.src_prefix = LENGTH(r.src_ip) * 8, INET6_NTOA(r.src_ip),
          CONCAT(INET6_NTOA(r.src_ip), '/', r.src_prefix)) AS src,
       INET6_NTOA(r.dst_ip) AS dst, r.dst_port, r.proto, r.action, r.origin, r.status,
       r.scope, r.hits, t.name AS threshold, r.reason, r.created_at, r.expires_at, r.updated_at,
       (SELECT COUNT(*) FROM RuleDevice rd WHERE rd.rule_id = r.id) AS devices,
       (SELECT COUNT(*) FROM RuleDevice rd WHERE rd.rule_id = r.id AND rd.state = 'applied') AS devices_applied,
       (SELECT COUNT(*) FROM RuleDevice rd WHERE rd.rule_id = r.id AND rd.state = 'failed') AS devices_failed
FROM Rule r LEFT JOIN Threshold t ON t.id = r.threshold_id;

CREATE VIEW RuleDeviceView AS
SELECT rd.id, rd.rule_id, d.name AS device, d.adapter,
       IF(r.src_prefix = LENGTH(r.src_ip) * 8, INET6_NTOA(r.src_ip),
          CONCAT(INET6_NTOA(r.src_ip), '/', r.src_prefix)) AS src,
       r.status AS rule_status, rd.desired, rd.state, rd.attempts, rd.last_error,
       rd.applied_at, rd.removed_at, rd.next_attempt_at, rd.claimed_by, rd.claimed_until
FROM RuleDevice rd JOIN Rule r ON r.id = rd.rule_id JOIN Device d ON d.id = rd.device_id;

CREATE VIEW SensorView AS
SELECT s.id, s.name, INET6_NTOA(s.address) AS address, s.description, s.created_at,
       (SELECT MAX(l.ts) FROM SensorLog l WHERE l.sensor_id = s.id) AS last_event_at
FROM Sensor s;

CREATE VIEW VirtHostView AS
SELECT v.id, v.sensor_id, s.name AS sensor, INET6_NTOA(v.address) AS address, p.name AS profile
FROM VirtHost v JOIN Sensor s ON s.id = v.sensor_id LEFT JOIN Profile p ON p.id = v.profile_id;

CREATE VIEW DataView AS
SELECT d.id, d.sensorlog_id, s.name AS sensor, d.ts, d.source, d.script, d.pid, d.payload,
       d.file_path, INET6_NTOA(l.src_ip) AS src, l.src_port, INET6_NTOA(l.dst_ip) AS dst, l.dst_port
FROM Data d JOIN Sensor s ON s.id = d.sensor_id LEFT JOIN SensorLog l ON l.id = d.sensorlog_id;

-- Every address range that must never be blocked, with the reason.
CREATE VIEW ProtectedRange AS
SELECT 'whitelist' AS reason, w.cidr AS what, w.first_ip, w.last_ip FROM Whitelist w
UNION ALL
SELECT 'sensor', s.name, s.address, s.address FROM Sensor s WHERE s.address IS NOT NULL
UNION ALL
SELECT 'honeypot', CONCAT(s.name, ' ', INET6_NTOA(v.address)), v.address, v.address
FROM VirtHost v JOIN Sensor s ON s.id = v.sensor_id
UNION ALL
SELECT 'device', d.name, INET6_ATON(d.host), INET6_ATON(d.host) FROM Device d WHERE INET6_ATON(d.host) IS NOT NULL;
