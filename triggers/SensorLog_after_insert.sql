-- The decision, on every SensorLog row. Hot path: one upsert of one counter row per matching
-- threshold (normally one). The count the decision uses is the value of the row this upsert
-- just locked and wrote (see ThresholdCounter_before_update), never a separate SELECT: a plain
-- read inside a trigger can be a snapshot that misses concurrent hits.
-- Windows are tumbling, numbered FLOOR(seconds since 1970 UTC / window_s) of the event's own
-- time; TIMESTAMPDIFF is used instead of UNIX_TIMESTAMP, which depends on the session's zone.
CREATE TRIGGER SensorLog_after_insert AFTER INSERT ON SensorLog FOR EACH ROW
sl: BEGIN
  DECLARE v_sec BIGINT;
  DECLARE v_every INT;
  DECLARE v_horizon INT;
  IF NEW.kind NOT IN ('start', 'probe') THEN
    LEAVE sl;
  END IF;
  SET v_sec = TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', NEW.ts);
  INSERT INTO ThresholdCounter (threshold_id, src_ip, window_no, dst_ip, dst_port, src_port, proto,
                                hits, max_hits, sensor_id, window_end)
  SELECT t.id, NEW.src_ip, v_sec DIV t.window_s,
         IF(t.group_by IN ('src_dst_dport', 'tuple'), NEW.dst_ip, ''),
         IF(t.group_by = 'src', 0, IFNULL(NEW.dst_port, 0)),
         IF(t.group_by = 'tuple', IFNULL(NEW.src_port, 0), 0),
         IF(t.group_by = 'src', '', NEW.proto),
         1, t.max_hits, NEW.sensor_id,
         TIMESTAMPADD(SECOND, (v_sec DIV t.window_s + 1) * t.window_s, '1970-01-01 00:00:00')
  FROM Threshold t
  WHERE t.enabled = 1
    AND (t.proto IS NULL OR t.proto = NEW.proto)
    AND (t.dst_port IS NULL OR t.dst_port = NEW.dst_port)
    AND (t.sensor_id IS NULL OR t.sensor_id = NEW.sensor_id)
  ON DUPLICATE KEY UPDATE ThresholdCounter.hits = ThresholdCounter.hits + 1,
                          ThresholdCounter.max_hits = VALUES(max_hits),
                          ThresholdCounter.sensor_id = VALUES(sensor_id);
  -- Purge counters of windows that ended more than the horizon ago, every Nth row. Event time,
  -- capped at the clock: a replayed old log keeps its own recent windows, a clock running
  -- ahead cannot purge the present.
  SET v_every = (SELECT CAST(s.value AS UNSIGNED) FROM Setting s WHERE s.name = 'counter_purge_every');
  IF v_every > 0 AND NEW.id MOD v_every = 0 THEN
    SET v_horizon = (SELECT CAST(s.value AS UNSIGNED) FROM Setting s WHERE s.name = 'counter_horizon_s');
    DELETE FROM ThresholdCounter
    WHERE window_end < TIMESTAMPADD(SECOND, -IFNULL(v_horizon, 86400), LEAST(NEW.ts, UTC_TIMESTAMP(3)));
  END IF;
END
