-- A sensor's own account (`ipms db grants --sensor NAME`: ipms_sensor_NAME) writes for its own
-- sensor only, where the grants cannot say so: moving another sensor's IngestCheckpoint forward
-- would make that sensor's ingest skip part of its log. USER() is the client, also inside a
-- trigger (CURRENT_USER() is the trigger's definer). The shared ipms_sensor account and every
-- other account pass.
CREATE PROCEDURE ipms_sensor_account(IN p_sensor_id INT UNSIGNED)
BEGIN
  DECLARE v_user VARCHAR(100) CHARACTER SET utf8mb4 DEFAULT CONVERT(SUBSTRING_INDEX(USER(), '@', 1) USING utf8mb4);
  DECLARE v_msg VARCHAR(255);
  IF v_user COLLATE utf8mb4_bin LIKE 'ipms\_sensor\_%'
     AND NOT EXISTS (SELECT 1 FROM Sensor s
                     WHERE s.id = p_sensor_id
                       -- (as lib/grants.ts names it: a name of 20 characters or more is cut and hashed)
                       AND IF(CHAR_LENGTH(s.name) < 20, CONCAT('ipms_sensor_', s.name),
                              CONCAT('ipms_sensor_', LEFT(s.name, 11), '_', LEFT(SHA1(s.name), 8))) COLLATE utf8mb4_bin
                           = v_user COLLATE utf8mb4_bin) THEN
    SET v_msg = CONCAT('ipms: account ', LEFT(v_user, 40), ' writes for its own sensor only, not sensor id ', IFNULL(p_sensor_id, 'NULL'));
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
END
