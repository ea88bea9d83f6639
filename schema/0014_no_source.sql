-- Ranges no packet comes from: "this network" 0.0.0.0/8 (every DHCP request comes from
-- 0.0.0.0), loopback, multicast, the reserved 240/4 and the limited broadcast, and in IPv6 the
-- unspecified address, loopback and multicast. A sensor overhears spoofed packets "from" them
-- (honeyd reads the wire), and a rule for one would cut a firewall's own loopback traffic or
-- every DHCP client: no rule is made for them, whoever asks (ipms_protected and the
-- blacklist's check, ipms_blacklist_fill, read this table), and they are in ProtectedRange,
-- which `why`, the blacklist import and the worker read. A DBA may add a range;
-- `description cidr` is what messages say.
CREATE TABLE NoSourceRange (
  cidr VARCHAR(64) NOT NULL PRIMARY KEY,
  first_ip VARBINARY(16) NOT NULL,
  last_ip VARBINARY(16) NOT NULL,
  prefix TINYINT UNSIGNED NOT NULL,
  description VARCHAR(100) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO NoSourceRange (cidr, first_ip, last_ip, prefix, description) VALUES
  ('0.0.0.0/8', UNHEX('00000000'), UNHEX('00FFFFFF'), 8, 'this network'),
  ('127.0.0.0/8', UNHEX('7F000000'), UNHEX('7FFFFFFF'), 8, 'loopback'),
  ('224.0.0.0/3', UNHEX('E0000000'), UNHEX('FFFFFFFF'), 3, 'multicast and reserved'),
  ('255.255.255.255/32', UNHEX('FFFFFFFF'), UNHEX('FFFFFFFF'), 32, 'the limited broadcast'),
  ('::/128', UNHEX('00000000000000000000000000000000'), UNHEX('00000000000000000000000000000000'), 128, 'the unspecified address'),
  ('::1/128', UNHEX('00000000000000000000000000000001'), UNHEX('00000000000000000000000000000001'), 128, 'loopback'),
  ('ff00::/8', UNHEX('FF000000000000000000000000000000'), UNHEX('FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF'), 8, 'multicast');

-- Every address range that must never be blocked, with the reason (0013's, and these).
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
FROM Device d WHERE IS_IPV4(d.host) OR IS_IPV6(d.host)
UNION ALL
SELECT 'no-source range', CONCAT(n.description, ' ', n.cidr), n.first_ip, n.last_ip FROM NoSourceRange n;
