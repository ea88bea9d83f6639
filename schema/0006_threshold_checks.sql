-- A threshold that counts a destination port counts a protocol that has ports: with
-- proto = 'icmp' and dst_port = 22 it would match nothing and nobody would notice. (NULL proto
-- with a port counts tcp, udp... hits to that port.) Windows stay at most 31 days: a counter
-- lives until its window ends plus the purge horizon.
-- CHECK constraints are enforced by MariaDB 10.2+ and MySQL 8.0.16+. Rows an earlier version
-- let in are put right first (the ALTER would fail on them): a longer window becomes 31 days,
-- and a threshold that counted a port of a portless protocol (it counted nothing) is disabled
-- with its port cleared and a note in its description.
UPDATE Threshold SET window_s = 2678400 WHERE window_s > 2678400;
-- (description first: assignments are made left to right and it quotes the old port)
UPDATE Threshold
SET description = LEFT(CONCAT(IFNULL(description, ''), ' [ipms: disabled by the upgrade: dst_port ', dst_port, ' with proto ', proto, ' counted nothing]'), 255),
    enabled = 0, dst_port = NULL
WHERE dst_port IS NOT NULL AND proto IS NOT NULL AND proto NOT IN ('tcp', 'udp', 'sctp', 'udplite', 'dccp');

ALTER TABLE Threshold
  ADD CONSTRAINT ck_threshold_port CHECK (dst_port IS NULL OR proto IS NULL OR proto IN ('tcp', 'udp', 'sctp', 'udplite', 'dccp')),
  ADD CONSTRAINT ck_threshold_window_max CHECK (window_s <= 2678400);
