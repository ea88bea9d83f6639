-- The general path of the SensorLog trigger (see SensorLog_after_insert.sql): reload the enabled
-- thresholds once per statement, purge old counters now and then, and count the hit against
-- every threshold that matches it.
CREATE PROCEDURE ipms_count_hit(
  IN p_id BIGINT UNSIGNED, IN p_sensor_id INT UNSIGNED, IN p_ts DATETIME(3), IN p_kind VARCHAR(8),
  IN p_proto VARCHAR(16), IN p_src_ip VARBINARY(16), IN p_src_port INT UNSIGNED,
  IN p_dst_ip VARBINARY(16), IN p_dst_port INT UNSIGNED)
BEGIN
  DECLARE v_i INT DEFAULT 0;
  DECLARE v_last INT UNSIGNED DEFAULT 0;
  DECLARE v_item VARCHAR(200);
  DECLARE v_id INT UNSIGNED;
  DECLARE v_proto VARCHAR(16);
  DECLARE v_port VARCHAR(8);
  DECLARE v_sensor VARCHAR(12);
  DECLARE v_group VARCHAR(16);
  DECLARE v_win INT UNSIGNED;
  DECLARE v_max INT UNSIGNED;
  DECLARE v_dst VARBINARY(16);
  DECLARE v_dport INT UNSIGNED;
  DECLARE v_kproto VARCHAR(16);
  DECLARE v_horizon INT UNSIGNED;
  DECLARE v_len BIGINT;
  DECLARE v_cut BIGINT;

  -- Once per statement: the enabled thresholds, as 'id,proto,port,sensor,group_by,window_s,max_hits;...'
  -- Read with a lock (as committed now, not from the snapshot of a transaction that began
  -- before a DBA's UPDATE Threshold: such a change applies to the next statement of every
  -- session, also one inside a longer transaction, e.g. an ingest with --batch-size above 500).
  IF NOT (@ipms_thr_stmt <=> NOW(6) + 0) OR @ipms_thr_loaded < SYSDATE(6) - INTERVAL 1 SECOND THEN
    -- One statement in the usual case; one statement per threshold when GROUP_CONCAT was cut
    -- short by group_concat_max_len (1024 bytes by default on MySQL: some 25 thresholds), which
    -- the length of the whole list tells (a count of items would not: the cut can fall inside one)
    -- (no derived table and no subquery next to the aggregates: under ONLY_FULL_GROUP_BY,
    -- MariaDB refuses either from the second run of the statement in a session on; with no
    -- enabled threshold there is nothing to purge)
    SELECT GROUP_CONCAT(CONCAT_WS(',', t.id, IFNULL(t.proto, ''), IFNULL(t.dst_port, ''), IFNULL(t.sensor_id, ''),
                                  t.group_by, t.window_s, t.max_hits) ORDER BY t.id SEPARATOR ';'),
           COUNT(*),
           SUM(LENGTH(CONCAT_WS(',', t.id, IFNULL(t.proto, ''), IFNULL(t.dst_port, ''), IFNULL(t.sensor_id, ''),
                                t.group_by, t.window_s, t.max_hits))) + COUNT(*) - 1,
           MAX(CAST(s.value AS UNSIGNED))
      INTO @ipms_thr, @ipms_thr_n, v_len, v_horizon
      FROM Threshold t LEFT JOIN Setting s ON s.name = 'counter_purge_every'
      WHERE t.enabled = 1
      LOCK IN SHARE MODE;
    SET @ipms_thr = IFNULL(@ipms_thr, '');
    IF @ipms_thr_n > 0 AND NOT (LENGTH(@ipms_thr) <=> v_len) THEN
      SET @ipms_thr = '', @ipms_thr_n = 0;
      load_loop: LOOP
        SET v_item = NULL;
        SELECT CONCAT_WS(',', t.id, IFNULL(t.proto, ''), IFNULL(t.dst_port, ''), IFNULL(t.sensor_id, ''),
                         t.group_by, t.window_s, t.max_hits), t.id
          INTO v_item, v_last
          FROM Threshold t WHERE t.enabled = 1 AND t.id > v_last ORDER BY t.id LIMIT 1 LOCK IN SHARE MODE;
        IF v_item IS NULL THEN
          LEAVE load_loop;
        END IF;
        SET @ipms_thr = IF(@ipms_thr_n = 0, v_item, CONCAT(@ipms_thr, ';', v_item)), @ipms_thr_n = @ipms_thr_n + 1;
      END LOOP;
    END IF;
    -- Threshold 1 in variables of its own, for the trigger's fast path: it takes one
    -- threshold grouped per source, without protocol, port or sensor filters.
    SET @ipms_t1_id = CAST(SUBSTRING_INDEX(@ipms_thr, ',', 1) AS UNSIGNED),
        @ipms_t1_win = CAST(SUBSTRING_INDEX(SUBSTRING_INDEX(@ipms_thr, ',', 6), ',', -1) AS UNSIGNED),
        @ipms_t1_max = CAST(SUBSTRING_INDEX(SUBSTRING_INDEX(SUBSTRING_INDEX(@ipms_thr, ';', 1), ',', 7), ',', -1) AS UNSIGNED),
        @ipms_fast = (@ipms_thr_n = 1 AND SUBSTRING_INDEX(@ipms_thr, ',', 5) LIKE '%,,,,src');
    SET @ipms_thr_stmt = NOW(6) + 0, @ipms_thr_loaded = SYSDATE(6);
    -- Purge counters of windows that ended more than the horizon ago, in event time capped at
    -- the clock: a replayed old log keeps its own recent windows, a clock running ahead
    -- cannot purge the present. The server's clock: a session that set its own ahead (SET
    -- timestamp) is taken back by its lead over SYSDATE().
    IF v_horizon > 0 AND NOT (p_id DIV v_horizon <=> @ipms_purged_block) THEN
      SET @ipms_purged_block = p_id DIV v_horizon;
      SET v_horizon = (SELECT CAST(s.value AS UNSIGNED) FROM Setting s WHERE s.name = 'counter_horizon_s');
      -- (the cut-off computed first: SYSDATE() in the DELETE's own condition is evaluated row by
      -- row, which makes it a full scan instead of a range of ix_counter_window_end)
      SET v_cut = TO_SECONDS(LEAST(p_ts, UTC_TIMESTAMP(3) - INTERVAL GREATEST(TIMESTAMPDIFF(SECOND, SYSDATE(), NOW()), 0) SECOND))
                  - 62167219200 - IFNULL(v_horizon, 86400);
      DELETE FROM ThresholdCounter WHERE window_end < v_cut;
    END IF;
  END IF;

  -- Every threshold, one at a time (the trigger's fast path is this loop written out for the
  -- usual case: one statement fewer per row than a CALL).
  WHILE v_i < @ipms_thr_n AND p_kind IN ('start', 'probe') DO
    SET v_i = v_i + 1;
    SET v_item = SUBSTRING_INDEX(SUBSTRING_INDEX(@ipms_thr, ';', v_i), ';', -1);
    SET v_proto = SUBSTRING_INDEX(SUBSTRING_INDEX(v_item, ',', 2), ',', -1),
        v_port = SUBSTRING_INDEX(SUBSTRING_INDEX(v_item, ',', 3), ',', -1),
        v_sensor = SUBSTRING_INDEX(SUBSTRING_INDEX(v_item, ',', 4), ',', -1);
    IF (v_proto = '' OR v_proto = p_proto COLLATE utf8mb4_bin)
       AND (v_port = '' OR CAST(v_port AS UNSIGNED) <=> p_dst_port)
       AND (v_sensor = '' OR CAST(v_sensor AS UNSIGNED) = p_sensor_id) THEN
      SET v_id = CAST(SUBSTRING_INDEX(v_item, ',', 1) AS UNSIGNED),
          v_group = SUBSTRING_INDEX(SUBSTRING_INDEX(v_item, ',', 5), ',', -1),
          v_win = CAST(SUBSTRING_INDEX(SUBSTRING_INDEX(v_item, ',', 6), ',', -1) AS UNSIGNED),
          v_max = CAST(SUBSTRING_INDEX(v_item, ',', -1) AS UNSIGNED);
      SET v_dst = IF(v_group IN ('src_dst_dport', 'tuple'), p_dst_ip, ''),
          v_dport = IF(v_group = 'src', 0, IFNULL(p_dst_port, 0)),
          v_kproto = IF(v_group = 'src', '', p_proto);
      INSERT INTO ThresholdCounter (threshold_id, src_ip, window_no, dst_ip, dst_port, src_port, proto,
                                    hits, max_hits, fired, sensor_id, window_end)
      VALUES (v_id, p_src_ip, (TO_SECONDS(p_ts) - 62167219200) DIV v_win, v_dst, v_dport,
              IF(v_group = 'tuple', IFNULL(p_src_port, 0), 0), v_kproto,
              1, v_max, LAST_INSERT_ID(v_max <= 1), p_sensor_id,
              ((TO_SECONDS(p_ts) - 62167219200) DIV v_win + 1) * v_win)
      ON DUPLICATE KEY UPDATE
        fired = fired | LAST_INSERT_ID(fired = 0 AND hits + 1 >= v_max),
        hits = hits + 1,
        max_hits = v_max,
        sensor_id = p_sensor_id;
      IF LAST_INSERT_ID() = 1 THEN
        CALL ipms_threshold_crossed(v_id, p_src_ip, (TO_SECONDS(p_ts) - 62167219200) DIV v_win, v_dst, v_dport,
                                    IF(v_group = 'tuple', IFNULL(p_src_port, 0), 0), v_kproto, v_max, p_sensor_id);
      END IF;
    END IF;
  END WHILE;
END
