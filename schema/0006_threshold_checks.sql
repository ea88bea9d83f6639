-- A threshold that counts a destination port counts a protocol that has ports: with
-- proto = 'icmp' and dst_port = 22 it would match nothing and nobody would notice. (NULL proto
-- with a port counts tcp, udp... hits to that port.) Windows stay at most 31 days: a counter
-- lives until its window ends plus the purge horizon.
-- CHECK constraints are enforced by MariaDB 10.2+ and MySQL 8.0.16+.
ALTER TABLE Threshold
  ADD CONSTRAINT ck_threshold_port CHECK (dst_port IS NULL OR proto IS NULL OR proto IN ('tcp', 'udp', 'sctp', 'udplite', 'dccp')),
  ADD CONSTRAINT ck_threshold_window_max CHECK (window_s <= 2678400);
