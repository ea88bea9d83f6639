-- Views as the README describes them (a DBA's check of the contract):
--  * ProtectedRange shows its range as text too (`first_addr`, `last_addr`): a sensor's or a device's
--    protected address appeared nowhere as text, only as bytes;
--  * RuleView counts the devices that should hold a rule (`devices`), and those of them that
--    have it (`devices_applied`), not also the rows of devices that no longer take it.
CREATE OR REPLACE VIEW ProtectedRange AS
SELECT IF(w.created_by = 'ipms-honeypots', 'honeypot range', 'whitelist') AS reason, w.cidr AS what, w.first_ip, w.last_ip,
       INET6_NTOA(w.first_ip) AS first_addr, INET6_NTOA(w.last_ip) AS last_addr
FROM Whitelist w
UNION ALL
SELECT 'sensor', s.name, s.address, s.address, INET6_NTOA(s.address), INET6_NTOA(s.address) FROM Sensor s WHERE s.address IS NOT NULL
UNION ALL
SELECT 'honeypot', CONCAT(s.name, ' ', INET6_NTOA(v.address)), v.address, v.address, INET6_NTOA(v.address), INET6_NTOA(v.address)
FROM VirtHost v JOIN Sensor s ON s.id = v.sensor_id WHERE v.approved = 1
UNION ALL
-- (INET6_ATON of a host name warns on MySQL, and a writing statement that reads the view in
-- strict mode fails: only text that is an address reaches it)
SELECT 'device', d.name, INET6_ATON(IF(IS_IPV4(d.host) OR IS_IPV6(d.host), d.host, NULL)),
       INET6_ATON(IF(IS_IPV4(d.host) OR IS_IPV6(d.host), d.host, NULL)), d.host, d.host
FROM Device d WHERE IS_IPV4(d.host) OR IS_IPV6(d.host)
UNION ALL
SELECT 'no-source range', CONCAT(n.description, ' ', n.cidr), n.first_ip, n.last_ip, INET6_NTOA(n.first_ip), INET6_NTOA(n.last_ip)
FROM NoSourceRange n;

CREATE OR REPLACE VIEW RuleView AS
SELECT r.id,
       IF(r.src_prefix = LENGTH(r.src_ip) * 8, INET6_NTOA(r.src_ip),
          CONCAT(INET6_NTOA(r.src_ip), '/', r.src_prefix)) AS src,
       INET6_NTOA(r.dst_ip) AS dst, r.dst_port, r.proto, r.action, r.origin, r.status,
       r.scope, r.hits, t.name AS threshold, r.reason, r.created_at, r.expires_at, r.updated_at,
       (SELECT COUNT(*) FROM RuleDevice rd WHERE rd.rule_id = r.id AND rd.desired = 'present') AS devices,
       (SELECT COUNT(*) FROM RuleDevice rd WHERE rd.rule_id = r.id AND rd.desired = 'present' AND rd.state = 'applied') AS devices_applied,
       (SELECT COUNT(*) FROM RuleDevice rd WHERE rd.rule_id = r.id AND rd.state = 'failed') AS devices_failed
FROM Rule r LEFT JOIN Threshold t ON t.id = r.threshold_id;
