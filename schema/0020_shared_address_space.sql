-- RFC 6598's shared address space, 100.64.0.0/10, is inside too: carrier-grade NAT between a
-- provider and its customers, and the overlay addresses of Tailscale and others. No packet
-- from the Internet comes from it, and feeds list it as a bogon (FireHOL level1 does): an
-- import blocked it on every device, cutting a site off its own CGNAT or overlay peers.
-- As an inside range, feeds do not block it (ipms rules add still does), and rules of its
-- sources go to the devices that take internal ones. Left out where the DBA has a range
-- there already.
-- Blacklist entries over it go first, as an import would now refuse them: their rules are
-- dropped (Blacklist_after_delete) before the new network rescopes what is open inside it
-- (on an upgrade the Network triggers move such rules to the devices that take internal ones).
DELETE FROM Blacklist
WHERE LENGTH(first_ip) = 4 AND first_ip <= INET6_ATON('100.127.255.255') AND last_ip >= INET6_ATON('100.64.0.0')
  AND NOT EXISTS (SELECT 1 FROM Network n
                  WHERE LENGTH(n.first_ip) = 4 AND n.first_ip <= INET6_ATON('100.127.255.255') AND n.last_ip >= INET6_ATON('100.64.0.0'));

INSERT INTO Network (cidr, first_ip, last_ip, prefix, description)
SELECT '100.64.0.0/10', INET6_ATON('100.64.0.0'), INET6_ATON('100.127.255.255'), 10, 'shared address space: carrier-grade NAT, overlays (RFC 6598)'
FROM (SELECT 1 AS one) AS x
WHERE NOT EXISTS (SELECT 1 FROM Network n
                  WHERE LENGTH(n.first_ip) = 4 AND n.first_ip <= INET6_ATON('100.127.255.255') AND n.last_ip >= INET6_ATON('100.64.0.0'));
