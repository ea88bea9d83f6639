-- Data written before two rules of this version:
--  * An IPv4-mapped whitelist entry (::ffff:10.0.0.0/104) protected no IPv4 address (addresses
--    compare within one length); ipms now reads such text as IPv4. The entry becomes its IPv4
--    form (the Whitelist trigger derives the range), or goes when that form is there already.
--  * Open rules over a protected address (a sensor's, device's or honeypot's, added after the
--    rule) are now dropped when the address is added; earlier ones are dropped here. The Rule
--    trigger turns each drop into removals on the devices.
--  * No rule is wider than /8 (IPv4) or /16 (IPv6) any more, and look-ups rely on it: older
--    open rules that are wider are dropped.
-- (DISTINCT: a derived table MySQL merges into the subquery counts as reading the table being
-- deleted from, error 1093; a materialised one does not)
DELETE w FROM Whitelist w
WHERE LENGTH(w.first_ip) = 16 AND LEFT(w.first_ip, 12) = UNHEX('00000000000000000000FFFF') AND w.prefix >= 96
  AND EXISTS (SELECT 1 FROM (SELECT DISTINCT cidr FROM Whitelist) v
              WHERE v.cidr = CONCAT(INET6_NTOA(SUBSTRING(w.first_ip, 13)), '/', w.prefix - 96));

UPDATE Whitelist
SET cidr = CONCAT(INET6_NTOA(SUBSTRING(first_ip, 13)), '/', prefix - 96)
WHERE LENGTH(first_ip) = 16 AND LEFT(first_ip, 12) = UNHEX('00000000000000000000FFFF') AND prefix >= 96;

UPDATE Rule r
SET r.status = 'dropped', r.reason = LEFT(CONCAT(IFNULL(r.reason, ''), ' [dropped: protected address]'), 255)
WHERE r.status IN ('pending', 'active', 'disabled')
  AND EXISTS (SELECT 1 FROM ProtectedRange p
              WHERE p.first_ip <= r.src_last AND p.last_ip >= r.src_ip AND LENGTH(p.first_ip) = LENGTH(r.src_ip));

UPDATE Rule
SET status = 'dropped', reason = LEFT(CONCAT(IFNULL(reason, ''), ' [dropped: wider than /8 or /16]'), 255)
WHERE status IN ('pending', 'active', 'disabled') AND src_prefix < IF(LENGTH(src_ip) = 4, 8, 16);
