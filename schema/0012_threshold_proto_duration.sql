-- What a threshold counts, checked as the CLI checks it. The SensorLog trigger compares a
-- threshold's protocol with the hit's byte for byte (a hit is 'tcp', never 'TCP'), so proto
-- 'TCP' or 'ssh' written in SQL counted nothing, silently. And duration_s = 0 made every rule
-- expire the moment it was created, shown as "until dropped". Rows an earlier version let in
-- are put right first: a protocol in capitals is written in small letters, an unknown one
-- disables its threshold (with a note), a duration of 0 becomes none (until dropped).
UPDATE Threshold SET proto = LOWER(TRIM(proto))
WHERE proto IS NOT NULL AND CAST(proto AS BINARY) <> CAST(LOWER(TRIM(proto)) AS BINARY);
UPDATE Threshold
SET description = LEFT(CONCAT(IFNULL(description, ''), ' [ipms: disabled by the upgrade: proto ', proto, ' is no protocol a hit has]'), 255),
    enabled = 0, proto = NULL, dst_port = NULL
WHERE proto IS NOT NULL
  AND CAST(proto AS BINARY) NOT IN ('tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'gre', 'esp', 'ah', 'igmp', 'udplite', 'dccp');
UPDATE Threshold SET duration_s = NULL WHERE duration_s = 0;

ALTER TABLE Threshold
  ADD CONSTRAINT ck_threshold_proto CHECK (proto IS NULL OR CAST(proto AS BINARY) IN ('tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'gre', 'esp', 'ah', 'igmp', 'udplite', 'dccp')),
  ADD CONSTRAINT ck_threshold_duration CHECK (duration_s IS NULL OR duration_s >= 1);
