-- Link-local sources are never blocked: fe80::/10 and 169.254.0.0/16. Their packets are never
-- routed, so only a host on the sensor's own link sends them, and one there can take any
-- link-local address it likes: "hits" from the router's fe80::1 would make a rule that cuts,
-- on every device that takes it, the router advertisements and neighbour discovery all of
-- IPv6 on that link depends on; hits "from" 169.254.169.254 one that cuts a cloud host off its
-- instance metadata. Such a rule blocks nobody else, since no other host's packets carry those
-- addresses. Listed with the ranges no packet comes from (schema 0014): ipms_protected, the
-- blacklist's check and ProtectedRange read them, so no rule is made for them, whoever asks.
INSERT IGNORE INTO NoSourceRange (cidr, first_ip, last_ip, prefix, description) VALUES
  ('169.254.0.0/16', UNHEX('A9FE0000'), UNHEX('A9FEFFFF'), 16, 'link-local, never routed'),
  ('fe80::/10', UNHEX('FE800000000000000000000000000000'), UNHEX('FEBFFFFFFFFFFFFFFFFFFFFFFFFFFFFF'), 10, 'link-local, never routed');

-- Open rules over them, made by earlier versions: dropped, so that the devices take them off.
UPDATE Rule r
SET r.status = 'dropped', r.reason = LEFT(CONCAT(IFNULL(r.reason, ''), ' [dropped: link-local addresses are never blocked]'), 255)
WHERE r.status IN ('pending', 'active', 'disabled')
  AND ((LENGTH(r.src_ip) = 4 AND r.src_ip <= UNHEX('A9FEFFFF') AND r.src_last >= UNHEX('A9FE0000'))
    OR (LENGTH(r.src_ip) = 16 AND r.src_ip <= UNHEX('FEBFFFFFFFFFFFFFFFFFFFFFFFFFFFFF') AND r.src_last >= UNHEX('FE800000000000000000000000000000')));
