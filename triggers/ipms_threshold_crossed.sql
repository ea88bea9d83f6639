-- A counter reached its threshold: decide whether a rule is created. Called from the
-- SensorLog trigger, at most once per key and window (the counter upsert sets its `fired`
-- flag under the row lock it holds, so concurrent inserts cannot both fire).
-- No rule when the source is protected (whitelist, sensor, honeypot, device) or already under
-- an open rule for all its traffic; an identical open rule is kept (the unique open_key makes
-- that safe under concurrency, where a read-then-write check would not be).
CREATE PROCEDURE ipms_threshold_crossed(
  IN p_threshold_id INT UNSIGNED, IN p_src VARBINARY(16), IN p_dst VARBINARY(16),
  IN p_dst_port INT UNSIGNED, IN p_proto VARCHAR(16), IN p_hits INT UNSIGNED, IN p_sensor_id INT UNSIGNED)
proc: BEGIN
  DECLARE v_action VARCHAR(8);
  DECLARE v_duration INT UNSIGNED;
  DECLARE v_name VARCHAR(64);
  DECLARE v_proto VARCHAR(16);
  DECLARE v_now DATETIME(3);
  DECLARE v_what VARCHAR(200);
  CALL ipms_protected(p_src, p_src, v_what);
  IF v_what IS NOT NULL THEN
    LEAVE proc;
  END IF;
  -- (no rule is wider than /8 or /16: the lower bound keeps this a short range scan)
  IF EXISTS (SELECT 1 FROM Rule r
             WHERE r.src_ip >= IF(LENGTH(p_src) = 4, CONCAT(LEFT(p_src, 1), UNHEX('000000')), CONCAT(LEFT(p_src, 2), UNHEX('0000000000000000000000000000')))
               AND r.src_ip <= p_src AND r.src_last >= p_src AND LENGTH(r.src_ip) = LENGTH(p_src)
               AND r.status IN ('pending', 'active', 'disabled')
               AND r.dst_ip IS NULL AND r.dst_port IS NULL AND r.proto IS NULL) THEN
    LEAVE proc;
  END IF;
  SELECT t.action, t.duration_s, t.name INTO v_action, v_duration, v_name
  FROM Threshold t WHERE t.id = p_threshold_id;
  -- Devices only take protocol names from a fixed list; anything else widens to all protocols.
  SET v_proto = IF(p_proto IN ('tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'gre', 'esp', 'ah', 'igmp', 'udplite', 'dccp'), p_proto, NULL);
  SET v_now = UTC_TIMESTAMP(3);
  INSERT INTO Rule (src_ip, dst_ip, dst_port, proto, action, origin, threshold_id, sensor_id, hits,
                    reason, status, created_at, expires_at)
  VALUES (p_src, NULLIF(p_dst, ''), IF(v_proto IS NULL, NULL, NULLIF(p_dst_port, 0)), v_proto, v_action,
          'threshold', p_threshold_id, p_sensor_id, p_hits,
          CONCAT('threshold ', v_name), 'pending', v_now,
          IF(v_duration IS NULL, NULL, v_now + INTERVAL v_duration SECOND))
  ON DUPLICATE KEY UPDATE Rule.id = Rule.id;
END
