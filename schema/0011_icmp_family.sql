-- ICMP of the other address family. Earlier versions took a rule with proto icmp or igmp for an
-- IPv6 source, or icmpv6 for an IPv4 one: no device can express it, so every attempt failed,
-- and so did every attempt to take it off again. The Rule triggers refuse such rules now; the
-- open ones are dropped here (the worker records the removal of a rule a device never held
-- without sending anything).
UPDATE Rule
SET status = 'dropped', reason = LEFT(CONCAT(IFNULL(reason, ''), ' [dropped: ', proto, ' does not exist for IPv', IF(LENGTH(src_ip) = 4, '4', '6'), ']'), 255)
WHERE status IN ('pending', 'active', 'disabled')
  AND ((proto IN ('icmp', 'igmp') AND LENGTH(src_ip) <> 4) OR (proto = 'icmpv6' AND LENGTH(src_ip) <> 16));
