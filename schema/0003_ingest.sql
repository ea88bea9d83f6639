-- What `ipms ingest` (the honeyd2db shim) needs beyond the core schema.
--
-- Links by event id. The sensor's account may only INSERT into SensorLog and Data (it cannot
-- read them), so it cannot learn the AUTO_INCREMENT id of a row it wrote: a multi-row
-- INSERT IGNORE reports only the first id it generated, rows it skipped as duplicates leave
-- holes, and MySQL 8's default innodb_autoinc_lock_mode=2 does not promise consecutive ids
-- across concurrent writers. What the shim always knows is the stable event id it gave every
-- row (derived from the row's position in its file), so an end row names its start row, and
-- a payload row its connection, by that id. The views below resolve the link to a row id;
-- start_id / sensorlog_id stay for rows written by hand or by other tools.
-- Columns are added at the end of the tables: an instant ALTER on MySQL 8.0 and MariaDB 10.3+.

ALTER TABLE SensorLog
  -- an end row's start row, by its event_id (see above)
  ADD COLUMN start_event_id VARBINARY(32) NULL;

ALTER TABLE Data
  -- the connection (a SensorLog row) this payload belongs to, by its event_id
  ADD COLUMN sensorlog_event_id VARBINARY(32) NULL,
  ADD KEY ix_data_sensorlog_event (sensorlog_event_id);

-- How far the shim got in each file, per sensor: written in the same transaction as the rows
-- of those lines, so a restart resumes exactly where the database is. A file is known by its
-- content (SHA-256 of its first bytes), not by its name: a log renamed by rotation, or its
-- copy after copytruncate, is the same file.
CREATE TABLE IngestCheckpoint (
  sensor_id INT UNSIGNED NOT NULL,
  -- the shim's identity of the file: derived from fp (and, for files shorter than the
  -- fingerprint length when first seen, from dev and ino as well)
  file_key VARBINARY(32) NOT NULL,
  -- SHA-256 of the first fp_len bytes of the file
  fp VARBINARY(32) NOT NULL,
  fp_len INT UNSIGNED NOT NULL,
  -- device and inode when the file was first seen (decimal text: they can exceed 2^53)
  dev VARCHAR(24) NOT NULL DEFAULT '',
  ino VARCHAR(24) NOT NULL DEFAULT '',
  -- where it was last read from, for people
  path VARCHAR(1024) NULL,
  format VARCHAR(16) NULL,
  -- bytes and lines of the file that are in the database (every line before this offset)
  byte_offset BIGINT UNSIGNED NOT NULL DEFAULT 0,
  line_no BIGINT UNSIGNED NOT NULL DEFAULT 0,
  updated_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  PRIMARY KEY (sensor_id, file_key),
  CONSTRAINT fk_ingestcheckpoint_sensor FOREIGN KEY (sensor_id) REFERENCES Sensor (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The views of 0002 again, with the event-id links resolved (same columns as before).
CREATE OR REPLACE VIEW SensorLogView AS
SELECT l.id, l.sensor_id, s.name AS sensor, l.ts, l.kind, l.proto,
       INET6_NTOA(l.src_ip) AS src, l.src_port, INET6_NTOA(l.dst_ip) AS dst, l.dst_port,
       l.icmp_type, l.icmp_code, l.length, l.tcp_flags, l.os, l.remark, l.bytes_in, l.bytes_out,
       COALESCE(l.start_id, (SELECT st.id FROM SensorLog st WHERE st.event_id = l.start_event_id)) AS start_id,
       l.raw, l.inserted_at
FROM SensorLog l JOIN Sensor s ON s.id = l.sensor_id;

CREATE OR REPLACE VIEW DataView AS
SELECT d.id, COALESCE(li.id, le.id) AS sensorlog_id, s.name AS sensor, d.ts, d.source, d.script, d.pid,
       d.payload, d.file_path,
       INET6_NTOA(COALESCE(li.src_ip, le.src_ip)) AS src, COALESCE(li.src_port, le.src_port) AS src_port,
       INET6_NTOA(COALESCE(li.dst_ip, le.dst_ip)) AS dst, COALESCE(li.dst_port, le.dst_port) AS dst_port
FROM Data d JOIN Sensor s ON s.id = d.sensor_id
LEFT JOIN SensorLog li ON li.id = d.sensorlog_id
LEFT JOIN SensorLog le ON d.sensorlog_id IS NULL AND le.event_id = d.sensorlog_event_id;
