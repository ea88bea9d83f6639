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
-- insert hits can already make any count it likes; ipms_threshold_crossed reads the threshold
-- again before a rule (enabled, max_hits, sensor, grouping), and the protected-address checks
-- there and in Rule_before_insert do not depend on them.
-- Session variables take the collation of the session that set them, which need not be the
-- table's: comparisons with them name one (COLLATE utf8mb4_bin) to be valid in any session.
-- Windows are tumbling, numbered FLOOR(seconds since 1970 UTC / window_s) of the event's own
-- time. Seconds come from TO_SECONDS(ts) - 62167219200 (TO_SECONDS('1970-01-01')): integer
-- arithmetic that does not depend on the session's time zone, as UNIX_TIMESTAMP() would.
CREATE TRIGGER SensorLog_after_insert AFTER INSERT ON SensorLog FOR EACH ROW
BEGIN
  IF @ipms_fast <=> 1 AND @ipms_thr_stmt <=> NOW(6) + 0 AND NEW.kind IN ('start', 'probe') THEN
    -- The usual case: one enabled threshold that counts every hit per source (the paper's),
    -- already loaded for this statement. One upsert with no per-grouping expressions, one test.
    -- `fired` is assigned before `hits`, so `hits` there is the old value under both
    -- left-to-right (MySQL, MariaDB) and simultaneous (MariaDB SIMULTANEOUS_ASSIGNMENT) rules.
    -- Key columns a grouping does not use hold '' or 0, never NULL, so that they collide.
    -- (The new values are named, not VALUES(col): MySQL 8.0.20 deprecated that.)
    INSERT INTO ThresholdCounter (threshold_id, src_ip, window_no, dst_ip, dst_port, src_port, proto,
                                  hits, max_hits, fired, sensor_id, window_end)
    VALUES (@ipms_t1_id, NEW.src_ip, (TO_SECONDS(NEW.ts) - 62167219200) DIV @ipms_t1_win, '', 0, 0, '',
            1, @ipms_t1_max, LAST_INSERT_ID(@ipms_t1_max <= 1), NEW.sensor_id,
            ((TO_SECONDS(NEW.ts) - 62167219200) DIV @ipms_t1_win + 1) * @ipms_t1_win)
    ON DUPLICATE KEY UPDATE
      fired = fired | LAST_INSERT_ID(fired = 0 AND hits + 1 >= @ipms_t1_max),
      hits = hits + 1,
      max_hits = @ipms_t1_max,
      sensor_id = NEW.sensor_id;
    -- LAST_INSERT_ID() is 1 when this hit crossed the threshold: set by the row values when the
    -- upsert inserted (a first hit crosses max_hits <= 1), else by the UPDATE clause.
    -- (ROW_COUNT() would tell insert from update, but is not maintained inside triggers.)
    IF LAST_INSERT_ID() = 1 THEN
      CALL ipms_threshold_crossed(@ipms_t1_id, NEW.src_ip, (TO_SECONDS(NEW.ts) - 62167219200) DIV @ipms_t1_win, '', 0, 0, '',
                                  @ipms_t1_max, NEW.sensor_id);
    END IF;
  ELSE
    -- Everything else (the first row of each statement, other configurations) in a procedure:
    -- local variables declared anywhere in a trigger are set up on every row, also when the
    -- branch that declares them does not run (measured here: a few per cent of the insert rate).
    CALL ipms_count_hit(NEW.id, NEW.sensor_id, NEW.ts, NEW.kind, NEW.proto, NEW.src_ip, NEW.src_port,
                        NEW.dst_ip, NEW.dst_port);
  END IF;
END
