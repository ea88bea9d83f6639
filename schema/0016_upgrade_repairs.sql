-- Repairs for databases migrated by earlier development versions of ipms, whose schema files
-- were changed after those databases had applied them (knex runs a file once, by its name, so
-- the change never reached them). On a database made by this version each statement finds
-- nothing to do. Found by an upgrade review that migrated databases of older commits.

-- 1. PrefixLength without its netmasks (0008 before they were added): every threshold crossing,
--    whitelist entry and protected-address check failed with "Unknown column 'pl.mask4'". The
--    table is built again from its prefix lengths and swapped in whole (RENAME TABLE swaps both
--    names at once: no moment without the table). mask4: the IPv4 netmask; mask_hi / mask_lo:
--    the IPv6 netmask's first and last 64 bits (no shift of 64 or more: its result differs).
-- (left over from a run stopped between its steps, if any)
DROP TABLE IF EXISTS PrefixLength_0016, PrefixLength_0016_old;

CREATE TABLE PrefixLength_0016 (
  n TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  mask4 INT UNSIGNED NOT NULL,
  mask_hi BIGINT UNSIGNED NOT NULL,
  mask_lo BIGINT UNSIGNED NOT NULL
) ENGINE=InnoDB;

INSERT INTO PrefixLength_0016 (n, mask4, mask_hi, mask_lo)
SELECT n,
       IF(n >= 32, 4294967295, IF(n = 0, 0, (4294967295 << (32 - n)) & 4294967295)),
       IF(n >= 64, 18446744073709551615, IF(n = 0, 0, 18446744073709551615 << (64 - n))),
       IF(n <= 64, 0, IF(n >= 128, 18446744073709551615, 18446744073709551615 << (128 - n)))
FROM PrefixLength WHERE n <= 128;

RENAME TABLE PrefixLength TO PrefixLength_0016_old, PrefixLength_0016 TO PrefixLength;

DROP TABLE PrefixLength_0016_old;

-- 2. Honeypot ranges approved before approval whitelisted them (0013 before it did): they
--    protected nothing, and rules over them stayed open. Each approved range gets its entry,
--    as an approval makes it (the Whitelist triggers drop the open rules over it); IPv4-mapped
--    ranges, which 0013 no longer makes and which never match a hit, are left out, and so are
--    ranges wider than a whitelist entry may be (/8, /16: written in SQL, unchecked then; the
--    Whitelist triggers that refuse them are not yet the new ones while this runs).
INSERT INTO Whitelist (cidr, comment, created_by)
SELECT DISTINCT n.cidr, 'honeypot range (approved before this version)', 'ipms-honeypots'
FROM SensorNet n
WHERE n.first_ip IS NOT NULL AND n.prefix >= IF(LENGTH(n.first_ip) = 4, 8, 16)
  AND NOT (LENGTH(n.first_ip) = 16 AND LEFT(n.first_ip, 12) = UNHEX('00000000000000000000FFFF'))
  AND NOT EXISTS (SELECT 1 FROM Whitelist w WHERE w.cidr = n.cidr);

-- 3. Whitelist entries written in IPv4-mapped form (::ffff:a.b.c.d/n) after 0007 had converted
--    the earlier ones, and before the Whitelist triggers converted them on write: they protected
--    nothing (hits are stored in IPv4 form). As 0007: a duplicate of an IPv4 entry goes, the
--    rest take their IPv4 form (the Whitelist triggers derive the range and drop covered rules).
DELETE w FROM Whitelist w
WHERE LENGTH(w.first_ip) = 16 AND LEFT(w.first_ip, 12) = UNHEX('00000000000000000000FFFF') AND w.prefix >= 96
  AND EXISTS (SELECT 1 FROM (SELECT DISTINCT cidr FROM Whitelist) v
              WHERE v.cidr = CONCAT(INET6_NTOA(SUBSTRING(w.first_ip, 13)), '/', w.prefix - 96));

UPDATE Whitelist
SET cidr = CONCAT(INET6_NTOA(SUBSTRING(first_ip, 13)), '/', prefix - 96)
WHERE LENGTH(first_ip) = 16 AND LEFT(first_ip, 12) = UNHEX('00000000000000000000FFFF') AND prefix >= 96;

-- 4. Open rules over ranges no packet comes from (0.0.0.0/8, loopback, multicast, 240/4, ...),
--    which versions before 0014 accepted and sent to devices: 0014 made new ones impossible but
--    left these open. Dropped, so that the devices take them off (a removal is always sent).
UPDATE Rule r
SET r.status = 'dropped', r.reason = LEFT(CONCAT(IFNULL(r.reason, ''), ' [dropped: no packet comes from this range]'), 255)
WHERE r.status IN ('pending', 'active', 'disabled')
  AND EXISTS (SELECT 1 FROM NoSourceRange n
              WHERE n.first_ip <= r.src_last AND n.last_ip >= r.src_ip AND LENGTH(n.first_ip) = LENGTH(r.src_ip));
