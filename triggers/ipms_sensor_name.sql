-- A sensor's name is what the CLI accepts: 1-64 letters, digits, '.', '_' or '-', starting with
-- a letter or digit. A sensor's own account may register its sensor (the ingest does), and the
-- name goes into pages, links, filters and audit lines: no control or direction characters, no
-- markup. (Names written before this check are left as they are.)
CREATE PROCEDURE ipms_sensor_name(IN p_name VARCHAR(64) CHARACTER SET utf8mb4)
BEGIN
  -- (and no blank or control character: MariaDB's $ also matches before a final line break)
  IF p_name IS NULL OR NOT (p_name COLLATE utf8mb4_bin REGEXP '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')
     OR p_name REGEXP '[[:space:][:cntrl:]]' THEN
    SIGNAL SQLSTATE '45000'
      SET MESSAGE_TEXT = 'ipms: a sensor name is 1-64 letters, digits, ''.'', ''_'' or ''-'', starting with a letter or digit';
  END IF;
END
