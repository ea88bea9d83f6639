-- What protects any address of a range from being blocked, or NULL: a range no packet comes
-- from (loopback, multicast...), a whitelist entry, an approved honeypot address (see
-- SensorNet), a sensor's or a device's management address. The
-- same set as the ProtectedRange view, but as indexed look-ups in one statement: a UNION view
-- is materialised on every use, and every statement in a routine has a fixed cost, which a
-- 100k-entry blacklist import pays 100k times.
-- INET6_ATON of a host name is NULL, with a warning on MySQL that strict mode turns into an
-- error inside a stored program: only text that is an address reaches it (IS_IPV4/IS_IPV6).
-- A whitelist entry overlaps the range when it holds p_first or starts inside the range. The
-- first kind: one look-up of p_first cut to each prefix length the whitelist uses (see
-- WhitelistPrefix and PrefixLength), since an entry starts at its network address; the second
-- kind: a range scan as long as the range. Neither reads the entries below the address, which
-- a whitelist of thousands would make slow.
CREATE PROCEDURE ipms_protected(IN p_first VARBINARY(16), IN p_last VARBINARY(16), OUT p_what VARCHAR(200))
BEGIN
  SET p_what = COALESCE(
    -- a range no packet comes from (loopback, multicast...: schema 0014), the most specific
    (SELECT CONCAT(n.description, ' ', n.cidr) FROM NoSourceRange n
     WHERE n.first_ip <= p_last AND n.last_ip >= p_first AND LENGTH(n.first_ip) = LENGTH(p_first)
     ORDER BY n.prefix DESC LIMIT 1),
    (SELECT CONCAT(IF(w.created_by = 'ipms-honeypots', 'honeypot range ', 'whitelist '), w.cidr)
     FROM WhitelistPrefix wp
     STRAIGHT_JOIN PrefixLength pl ON pl.n = wp.prefix
     STRAIGHT_JOIN Whitelist w
       ON w.first_ip = IF(LENGTH(p_first) = 4,
            UNHEX(LPAD(HEX(CAST(CONV(HEX(p_first), 16, 10) AS UNSIGNED) & pl.mask4), 8, '0')),
            CONCAT(UNHEX(LPAD(HEX(CAST(CONV(HEX(LEFT(p_first, 8)), 16, 10) AS UNSIGNED) & pl.mask_hi), 16, '0')),
                   UNHEX(LPAD(HEX(CAST(CONV(HEX(RIGHT(p_first, 8)), 16, 10) AS UNSIGNED) & pl.mask_lo), 16, '0'))))
      AND w.prefix = pl.n
     WHERE wp.len = LENGTH(p_first) AND w.last_ip >= p_first LIMIT 1),
    -- (a point, the usual question, has no inside)
    IF(p_last = p_first, NULL,
       (SELECT CONCAT(IF(w.created_by = 'ipms-honeypots', 'honeypot range ', 'whitelist '), w.cidr) FROM Whitelist w
        WHERE w.first_ip > p_first AND w.first_ip <= p_last AND LENGTH(w.first_ip) = LENGTH(p_first) LIMIT 1)),
    (SELECT CONCAT('honeypot ', s.name, ' ', INET6_NTOA(v.address)) FROM VirtHost v JOIN Sensor s ON s.id = v.sensor_id
     WHERE v.address BETWEEN p_first AND p_last AND LENGTH(v.address) = LENGTH(p_first) AND v.approved = 1 LIMIT 1),
    (SELECT CONCAT('sensor ', s.name) FROM Sensor s
     WHERE s.address BETWEEN p_first AND p_last AND LENGTH(s.address) = LENGTH(p_first) LIMIT 1),
    (SELECT CONCAT('device ', d.name) FROM Device d
     WHERE INET6_ATON(IF(IS_IPV4(d.host) OR IS_IPV6(d.host), d.host, NULL)) BETWEEN p_first AND p_last
       AND LENGTH(INET6_ATON(IF(IS_IPV4(d.host) OR IS_IPV6(d.host), d.host, NULL))) = LENGTH(p_first) LIMIT 1));
END
