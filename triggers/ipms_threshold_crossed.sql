-- A counter reached its threshold: decide whether a rule is created. Called from the
-- SensorLog trigger, at most once per key and window (the counter upsert sets its `fired`
-- flag under the row lock it holds, so concurrent inserts cannot both fire).
-- No rule when the source is protected (whitelist, sensor, honeypot, device) or already under
-- an open rule for all its traffic; an identical open rule is kept (the unique open_key makes
-- that safe under concurrency, where a read-then-write check would not be).
CREATE PROCEDURE ipms_threshold_crossed(
  IN p_threshold_id INT UNSIGNED, IN p_src VARBINARY(16), IN p_window_no BIGINT UNSIGNED, IN p_dst VARBINARY(16),
  IN p_dst_port INT UNSIGNED, IN p_src_port INT UNSIGNED, IN p_proto VARCHAR(16), IN p_hits INT UNSIGNED,
  IN p_sensor_id INT UNSIGNED)
proc: BEGIN
  DECLARE v_action VARCHAR(8);
  DECLARE v_duration INT UNSIGNED;
  DECLARE v_name VARCHAR(64);
  DECLARE v_proto VARCHAR(16);
  DECLARE v_now DATETIME(3);
  DECLARE v_what VARCHAR(200);
  DECLARE v_enabled TINYINT;
  DECLARE v_max INT UNSIGNED;
  DECLARE v_sensor INT UNSIGNED;
  DECLARE v_group VARCHAR(16);
  DECLARE v_count INT UNSIGNED;
  DECLARE v_src_key VARBINARY(16) DEFAULT p_src;
  DECLARE v_dst_key VARBINARY(16) DEFAULT p_dst;
  -- The caller's threshold values come from session variables (see SensorLog_after_insert),
  -- which a session can set itself: the threshold is read again here, where it is rare. A
  -- disabled one, a lower max_hits than the table's (forged, or a DBA's raise within the
  -- statement), another sensor's, or another grouping makes no rule, and the counter row that
  -- fired (this key and window: its whole primary key, the row this statement holds already)
  -- is no longer marked as fired, unless it has reached the table's max_hits (else a forged
  -- fire would keep the real crossing of that window from making its rule).
  -- (a locking read: the threshold as committed now, not as the snapshot of a transaction
  -- that began before a DBA's change)
  SELECT t.action, t.duration_s, t.name, t.enabled, t.max_hits, t.sensor_id, t.group_by
    INTO v_action, v_duration, v_name, v_enabled, v_max, v_sensor, v_group
    FROM Threshold t WHERE t.id = p_threshold_id LOCK IN SHARE MODE;
  IF NOT (v_enabled <=> 1) OR p_hits < v_max OR (v_sensor IS NOT NULL AND NOT (v_sensor <=> p_sensor_id))
     OR (v_group = 'src') <> (p_proto = '') OR (v_group IN ('src_dst_dport', 'tuple')) <> (p_dst <> '') THEN
    UPDATE ThresholdCounter SET fired = 0
    WHERE threshold_id = p_threshold_id AND src_ip = p_src AND window_no = p_window_no AND dst_ip = p_dst
      AND dst_port = p_dst_port AND src_port = p_src_port AND proto = p_proto
      AND (hits < v_max OR NOT (v_enabled <=> 1));
    LEAVE proc;
  END IF;
  -- a hit logged from an IPv4-mapped address is from its IPv4 address (see ipms_cidr)
  IF LENGTH(p_src) = 16 AND LEFT(p_src, 12) = UNHEX('00000000000000000000FFFF') THEN
    SET p_src = RIGHT(p_src, 4);
  END IF;
  IF LENGTH(p_dst) = 16 AND LEFT(p_dst, 12) = UNHEX('00000000000000000000FFFF') THEN
    SET p_dst = RIGHT(p_dst, 4);
  END IF;
  -- (a destination of the other family, from a hand-written hit: the rule is for all destinations)
  IF p_dst <> '' AND LENGTH(p_dst) <> LENGTH(p_src) THEN
    SET p_dst = '';
  END IF;
  CALL ipms_protected(p_src, p_src, v_what);
  IF v_what IS NOT NULL THEN
    LEAVE proc;
  END IF;
  -- Already under an open rule for all its traffic: one look-up per prefix length (see
  -- PrefixLength) of the address cut to that length (rules start at their network address).
  IF EXISTS (SELECT 1 FROM PrefixLength pl STRAIGHT_JOIN Rule r
               ON r.src_ip = IF(LENGTH(p_src) = 4,
                     UNHEX(LPAD(HEX(CAST(CONV(HEX(p_src), 16, 10) AS UNSIGNED) & pl.mask4), 8, '0')),
                     CONCAT(UNHEX(LPAD(HEX(CAST(CONV(HEX(LEFT(p_src, 8)), 16, 10) AS UNSIGNED) & pl.mask_hi), 16, '0')),
                            UNHEX(LPAD(HEX(CAST(CONV(HEX(RIGHT(p_src, 8)), 16, 10) AS UNSIGNED) & pl.mask_lo), 16, '0'))))
              AND r.src_prefix = pl.n
             WHERE pl.n BETWEEN IF(LENGTH(p_src) = 4, 8, 16) AND LENGTH(p_src) * 8
               AND r.status IN ('pending', 'active', 'disabled')
               AND r.dst_ip IS NULL AND r.dst_port IS NULL AND r.proto IS NULL) THEN
    LEAVE proc;
  END IF;
  -- Devices only take protocol names from a fixed list, each in its address family; anything
  -- else (a hit logged as icmp from an IPv6 source; ah, which devices cannot match in IPv6)
  -- widens to all protocols.
  SET v_proto = IF(p_proto IN ('tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'gre', 'esp', 'ah', 'igmp', 'udplite', 'dccp')
                     AND NOT (p_proto IN ('icmp', 'igmp', 'ah') AND LENGTH(p_src) <> 4) AND NOT (p_proto = 'icmpv6' AND LENGTH(p_src) <> 16),
                   p_proto, NULL);
  -- the rule records the hits counted, which exceed max_hits when a DBA lowered it mid-window
  -- (the counter row is this statement's own, by its whole key)
  SELECT c.hits INTO v_count FROM ThresholdCounter c
  WHERE c.threshold_id = p_threshold_id AND c.src_ip = v_src_key AND c.window_no = p_window_no AND c.dst_ip = v_dst_key
    AND c.dst_port = p_dst_port AND c.src_port = p_src_port AND c.proto = p_proto;
  SET v_now = UTC_TIMESTAMP(3);
  INSERT INTO Rule (src_ip, dst_ip, dst_port, proto, action, origin, threshold_id, sensor_id, hits,
                    reason, status, created_at, expires_at)
  VALUES (p_src, NULLIF(p_dst, ''), IF(v_proto IS NULL, NULL, NULLIF(p_dst_port, 0)), v_proto, v_action,
          'threshold', p_threshold_id, p_sensor_id, GREATEST(IFNULL(v_count, p_hits), p_hits),
          CONCAT('threshold ', v_name), 'pending', v_now,
          IF(v_duration IS NULL, NULL, v_now + INTERVAL v_duration SECOND))
  ON DUPLICATE KEY UPDATE Rule.id = Rule.id;
END
