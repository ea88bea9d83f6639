-- The decision, on every SensorLog row. The hot path is one indexed write per matching
-- threshold (normally one) and nothing else: in a trigger every statement that touches a table
-- costs about as much as the row's own insert, so
--  * the enabled thresholds are read once per INSERT statement, not once per row, into session
--    variables keyed by NOW(6) (constant for the duration of one statement, so a DBA's
--    UPDATE Threshold applies from the next statement on; kept as a number, since comparing a
--    string variable with a time parses it on every row). A session that freezes its clock
--    with SET timestamp keeps its thresholds until the clock moves (row-based replicas do
--    not run triggers, so appliers are not concerned);
--  * with one enabled threshold that counts everything (the paper's default) a row costs
--    three stored-program steps: one test (loaded for this statement? a hit?), the upsert and
--    the crossing test. Other configurations and the first row of each statement take the
--    general path: reload, then one upsert per matching threshold. Measured here: each extra
--    step or filter in the hot statement costs several per cent of the insert rate;
--  * old counters are purged once per block of N SensorLog ids per session, from the reload
--    step, not by a test on every row;
--  * the count comes back from the counter upsert itself, through LAST_INSERT_ID(expr) in its
--    ON DUPLICATE KEY UPDATE: the value of the row this statement just locked and wrote. A
--    separate SELECT could read a snapshot that misses concurrent hits, and costs a statement.
--    The `fired` flag flips under that same row lock, so one key and window fires once.
-- A session could forge these variables only for its own inserts, and a session that can
-- insert hits can already make any count it likes; the protected-address checks in
-- ipms_threshold_crossed and Rule_before_insert do not depend on them.
-- Session variables take the collation of the session that set them, which need not be the
-- table's: comparisons with them name one (COLLATE utf8mb4_bin) to be valid in any session.
-- Windows are tumbling, numbered FLOOR(seconds since 1970 UTC / window_s) of the event's own
-- time. Seconds come from TO_SECONDS(ts) - 62167219200 (TO_SECONDS('1970-01-01')): integer
-- arithmetic that does not depend on the session's time zone, as UNIX_TIMESTAMP() would.
CREATE TRIGGER SensorLog_after_insert AFTER INSERT ON SensorLog FOR EACH ROW
BEGIN
  -- (Local variables live in inner blocks: every DECLARE is a step executed on each entry.)
  IF @ipms_fast <=> 1 AND @ipms_thr_stmt <=> NOW(6) + 0 AND NEW.kind IN ('start', 'probe') THEN
    -- The usual case: one enabled threshold that counts every hit per source (the paper's),
    -- already loaded for this statement. One upsert with no per-grouping expressions, one test.
    -- `fired` is assigned before `hits`, so `hits` there is the old value under both
    -- left-to-right (MySQL, MariaDB) and simultaneous (MariaDB SIMULTANEOUS_ASSIGNMENT) rules.
    -- Key columns a grouping does not use hold '' or 0, never NULL, so that they collide.
    INSERT INTO ThresholdCounter (threshold_id, src_ip, window_no, dst_ip, dst_port, src_port, proto,
                                  hits, max_hits, fired, sensor_id, window_end)
    VALUES (@ipms_t1_id, NEW.src_ip, (TO_SECONDS(NEW.ts) - 62167219200) DIV @ipms_t1_win, '', 0, 0, '',
            1, @ipms_t1_max, LAST_INSERT_ID(@ipms_t1_max <= 1), NEW.sensor_id,
            ((TO_SECONDS(NEW.ts) - 62167219200) DIV @ipms_t1_win + 1) * @ipms_t1_win)
    ON DUPLICATE KEY UPDATE
      fired = fired | LAST_INSERT_ID(fired = 0 AND hits + 1 >= VALUES(max_hits)),
      hits = hits + 1,
      max_hits = VALUES(max_hits),
      sensor_id = VALUES(sensor_id);
    -- LAST_INSERT_ID() is 1 when this hit crossed the threshold: set by the row values when the
    -- upsert inserted (a first hit crosses max_hits <= 1), else by the UPDATE clause.
    -- (ROW_COUNT() would tell insert from update, but is not maintained inside triggers.)
    IF LAST_INSERT_ID() = 1 THEN
      CALL ipms_threshold_crossed(@ipms_t1_id, NEW.src_ip, '', 0, '', @ipms_t1_max, NEW.sensor_id);
    END IF;
  ELSE
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

    -- Once per statement: the enabled thresholds, as 'id,proto,port,sensor,group_by,window_s,max_hits;...'
    IF NOT (@ipms_thr_stmt <=> NOW(6) + 0) OR @ipms_thr_loaded < SYSDATE(6) - INTERVAL 1 SECOND THEN
      SET @ipms_thr = '', @ipms_thr_n = 0;
      load_loop: LOOP
        SET v_item = NULL;
        SELECT CONCAT_WS(',', t.id, IFNULL(t.proto, ''), IFNULL(t.dst_port, ''), IFNULL(t.sensor_id, ''),
                         t.group_by, t.window_s, t.max_hits), t.id
          INTO v_item, v_last
          FROM Threshold t WHERE t.enabled = 1 AND t.id > v_last ORDER BY t.id LIMIT 1;
        IF v_item IS NULL THEN
          LEAVE load_loop;
        END IF;
        SET @ipms_thr = IF(@ipms_thr_n = 0, v_item, CONCAT(@ipms_thr, ';', v_item)), @ipms_thr_n = @ipms_thr_n + 1;
      END LOOP;
      -- Threshold 1 in variables of its own, for the fast path above: it takes one threshold
      -- grouped per source, without protocol, port or sensor filters.
      SET @ipms_t1_id = CAST(SUBSTRING_INDEX(@ipms_thr, ',', 1) AS UNSIGNED),
          @ipms_t1_win = CAST(SUBSTRING_INDEX(SUBSTRING_INDEX(@ipms_thr, ',', 6), ',', -1) AS UNSIGNED),
          @ipms_t1_max = CAST(SUBSTRING_INDEX(SUBSTRING_INDEX(SUBSTRING_INDEX(@ipms_thr, ';', 1), ',', 7), ',', -1) AS UNSIGNED),
          @ipms_fast = (@ipms_thr_n = 1 AND SUBSTRING_INDEX(@ipms_thr, ',', 5) LIKE '%,,,,src');
      SET @ipms_thr_stmt = NOW(6) + 0, @ipms_thr_loaded = SYSDATE(6);
      -- Purge counters of windows that ended more than the horizon ago, in event time capped at
      -- the clock: a replayed old log keeps its own recent windows, a clock running ahead
      -- cannot purge the present.
      SET v_horizon = (SELECT CAST(s.value AS UNSIGNED) FROM Setting s WHERE s.name = 'counter_purge_every');
      IF v_horizon > 0 AND NOT (NEW.id DIV v_horizon <=> @ipms_purged_block) THEN
        SET @ipms_purged_block = NEW.id DIV v_horizon;
        SET v_horizon = (SELECT CAST(s.value AS UNSIGNED) FROM Setting s WHERE s.name = 'counter_horizon_s');
        DELETE FROM ThresholdCounter
        WHERE window_end < TO_SECONDS(LEAST(NEW.ts, UTC_TIMESTAMP(3))) - 62167219200 - IFNULL(v_horizon, 86400);
      END IF;
    END IF;

    -- Every threshold, one at a time (the fast path above is this loop for the usual case).
    WHILE v_i < @ipms_thr_n AND NEW.kind IN ('start', 'probe') DO
      SET v_i = v_i + 1;
      SET v_item = SUBSTRING_INDEX(SUBSTRING_INDEX(@ipms_thr, ';', v_i), ';', -1);
      SET v_proto = SUBSTRING_INDEX(SUBSTRING_INDEX(v_item, ',', 2), ',', -1),
          v_port = SUBSTRING_INDEX(SUBSTRING_INDEX(v_item, ',', 3), ',', -1),
          v_sensor = SUBSTRING_INDEX(SUBSTRING_INDEX(v_item, ',', 4), ',', -1);
      IF (v_proto = '' OR v_proto = NEW.proto COLLATE utf8mb4_bin)
         AND (v_port = '' OR CAST(v_port AS UNSIGNED) <=> NEW.dst_port)
         AND (v_sensor = '' OR CAST(v_sensor AS UNSIGNED) = NEW.sensor_id) THEN
        SET v_id = CAST(SUBSTRING_INDEX(v_item, ',', 1) AS UNSIGNED),
            v_group = SUBSTRING_INDEX(SUBSTRING_INDEX(v_item, ',', 5), ',', -1),
            v_win = CAST(SUBSTRING_INDEX(SUBSTRING_INDEX(v_item, ',', 6), ',', -1) AS UNSIGNED),
            v_max = CAST(SUBSTRING_INDEX(v_item, ',', -1) AS UNSIGNED);
        SET v_dst = IF(v_group IN ('src_dst_dport', 'tuple'), NEW.dst_ip, ''),
            v_dport = IF(v_group = 'src', 0, IFNULL(NEW.dst_port, 0)),
            v_kproto = IF(v_group = 'src', '', NEW.proto);
        INSERT INTO ThresholdCounter (threshold_id, src_ip, window_no, dst_ip, dst_port, src_port, proto,
                                      hits, max_hits, fired, sensor_id, window_end)
        VALUES (v_id, NEW.src_ip, (TO_SECONDS(NEW.ts) - 62167219200) DIV v_win, v_dst, v_dport,
                IF(v_group = 'tuple', IFNULL(NEW.src_port, 0), 0), v_kproto,
                1, v_max, LAST_INSERT_ID(v_max <= 1), NEW.sensor_id,
                ((TO_SECONDS(NEW.ts) - 62167219200) DIV v_win + 1) * v_win)
        ON DUPLICATE KEY UPDATE
          fired = fired | LAST_INSERT_ID(fired = 0 AND hits + 1 >= VALUES(max_hits)),
          hits = hits + 1,
          max_hits = VALUES(max_hits),
          sensor_id = VALUES(sensor_id);
        IF LAST_INSERT_ID() = 1 THEN
          CALL ipms_threshold_crossed(v_id, NEW.src_ip, v_dst, v_dport, v_kproto, v_max, NEW.sensor_id);
        END IF;
      END IF;
    END WHILE;
   END;
  END IF;
END
