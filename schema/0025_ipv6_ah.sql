-- A rule for protocol ah is IPv4 only (Rule_before_insert): in IPv6, AH is an extension header,
-- which the protocol match of nftables (meta l4proto) and ip6tables (-p) skips on the way to
-- the transport header, so such a rule was applied and blocked nothing. Open ones made before
-- are dropped, saying why (a threshold's crossing now makes a rule for all protocols instead).
UPDATE Rule r
SET r.status = 'dropped', r.reason = LEFT(CONCAT(IFNULL(r.reason, ''), ' [dropped: ah cannot be matched in IPv6; block the source for all protocols]'), 255)
WHERE r.status IN ('pending', 'active', 'disabled') AND r.proto = 'ah' AND LENGTH(r.src_ip) = 16;
