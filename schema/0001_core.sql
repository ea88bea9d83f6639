-- ipms core schema. Table names are the paper's (Sensor, SensorLog, Data, VirtHost, Profile,
-- Device, Rule) plus RuleDevice, Threshold, Whitelist, Blacklist. Columns are snake_case.
-- Addresses are VARBINARY(16) filled with INET6_ATON() (4 bytes for IPv4, 16 for IPv6); the
-- *View views show them as text. Times are UTC DATETIME(3).
-- Portable to MySQL 8.0+ and MariaDB 10.6+: no INET6 type, no CREATE OR REPLACE TRIGGER,
-- expression defaults in parentheses.

CREATE TABLE Setting (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  value VARCHAR(255) NOT NULL,
  description VARCHAR(255) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO Setting (name, value, description) VALUES
  ('counter_horizon_s', '86400', 'how late (in event time) a hit may arrive and still count: older threshold counters are purged'),
  ('counter_purge_every', '1024', 'purge old threshold counters on every Nth SensorLog row');

CREATE TABLE Sensor (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(64) NOT NULL,
  -- management address of the sensor host: never blocked
  address VARBINARY(16) NULL,
  description VARCHAR(255) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY uq_sensor_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A honeyd template ("create NAME" / "set NAME personality ...").
CREATE TABLE Profile (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sensor_id INT UNSIGNED NOT NULL,
  name VARCHAR(64) NOT NULL,
  personality VARCHAR(255) NULL,
  default_tcp_action VARCHAR(255) NULL,
  default_udp_action VARCHAR(255) NULL,
  default_icmp_action VARCHAR(255) NULL,
  uptime INT UNSIGNED NULL,
  ethernet VARCHAR(64) NULL,
  UNIQUE KEY uq_profile_name (sensor_id, name),
  CONSTRAINT fk_profile_sensor FOREIGN KEY (sensor_id) REFERENCES Sensor (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Link table: the ports a template opens ("add NAME tcp port 80 "sh web.sh"").
CREATE TABLE ProfilePort (
  profile_id INT UNSIGNED NOT NULL,
  proto ENUM('tcp','udp') NOT NULL,
  port SMALLINT UNSIGNED NOT NULL,
  action VARCHAR(255) NOT NULL,
  PRIMARY KEY (profile_id, proto, port),
  CONSTRAINT fk_profileport_profile FOREIGN KEY (profile_id) REFERENCES Profile (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A honeypot address of a sensor ("bind ADDR TEMPLATE"): its own address is never blocked,
-- and only traffic addressed to one of these counts as a hit.
CREATE TABLE VirtHost (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sensor_id INT UNSIGNED NOT NULL,
  address VARBINARY(16) NOT NULL,
  profile_id INT UNSIGNED NULL,
  UNIQUE KEY uq_virthost (sensor_id, address),
  KEY ix_virthost_address (address),
  CONSTRAINT fk_virthost_sensor FOREIGN KEY (sensor_id) REFERENCES Sensor (id) ON DELETE CASCADE,
  CONSTRAINT fk_virthost_profile FOREIGN KEY (profile_id) REFERENCES Profile (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per event a sensor saw. kind: start = connection start (S), probe = packet (-),
-- end = connection end (E, not a hit), stray = traffic not addressed to a honeypot (stored,
-- never counted). Only start and probe rows are hits.
CREATE TABLE SensorLog (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sensor_id INT UNSIGNED NOT NULL,
  -- the time honeyd wrote on the line (UTC), not the time of the insert
  ts DATETIME(3) NOT NULL,
  kind ENUM('start','probe','end','stray') NOT NULL DEFAULT 'start',
  -- protocol name as honeyd logs it: tcp, udp, icmp, gre, sctp, ... or unkn(N)
  proto VARCHAR(16) NOT NULL DEFAULT 'tcp',
  src_ip VARBINARY(16) NOT NULL,
  src_port SMALLINT UNSIGNED NULL,
  dst_ip VARBINARY(16) NOT NULL,
  dst_port SMALLINT UNSIGNED NULL,
  icmp_type TINYINT UNSIGNED NULL,
  icmp_code TINYINT UNSIGNED NULL,
  -- IP packet length of a probe line
  length INT UNSIGNED NULL,
  -- TCP flag letters of a probe line (FSRPAUEC order), '' for none
  tcp_flags VARCHAR(8) NULL,
  -- passive OS fingerprint honeyd appended ([Linux 2.6 .1-7])
  os VARCHAR(128) NULL,
  -- honeyd's remark ({Honeyd Scanner?})
  remark VARCHAR(64) NULL,
  -- payload bytes received from / sent to the remote side (end rows)
  bytes_in INT UNSIGNED NULL,
  bytes_out INT UNSIGNED NULL,
  -- an end row's start row
  start_id BIGINT UNSIGNED NULL,
  -- the ingest's own stable id of the event (position in the file); NULL for rows written by hand
  event_id VARBINARY(32) NULL,
  raw VARCHAR(1024) NULL,
  inserted_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY uq_sensorlog_event (event_id),
  KEY ix_sensorlog_sensor_ts (sensor_id, ts),
  KEY ix_sensorlog_src_ts (src_ip, ts),
  CONSTRAINT fk_sensorlog_sensor FOREIGN KEY (sensor_id) REFERENCES Sensor (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Payload lines (service log, syslog E(...) lines, script logs), linked to their connection.
CREATE TABLE Data (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sensorlog_id BIGINT UNSIGNED NULL,
  sensor_id INT UNSIGNED NOT NULL,
  ts DATETIME(3) NOT NULL,
  source ENUM('service','syslog','script') NOT NULL DEFAULT 'service',
  -- script name and pid of a script log line (mydoom.pl[31476])
  script VARCHAR(64) NULL,
  pid INT UNSIGNED NULL,
  payload TEXT NOT NULL,
  -- a file the attacker uploaded, as the script reported it
  file_path VARCHAR(512) NULL,
  event_id VARBINARY(32) NULL,
  raw TEXT NULL,
  inserted_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY uq_data_event (event_id),
  KEY ix_data_sensorlog (sensorlog_id),
  KEY ix_data_sensor_ts (sensor_id, ts),
  CONSTRAINT fk_data_sensor FOREIGN KEY (sensor_id) REFERENCES Sensor (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Internal address ranges: a rule whose source lies inside one is 'internal', else 'external'.
CREATE TABLE Network (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  cidr VARCHAR(43) NOT NULL,
  first_ip VARBINARY(16) NULL,
  last_ip VARBINARY(16) NULL,
  prefix TINYINT UNSIGNED NULL,
  description VARCHAR(255) NULL,
  UNIQUE KEY uq_network_cidr (cidr),
  KEY ix_network_range (first_ip, last_ip)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE Whitelist (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  -- canonical text form (network address and prefix); first_ip/last_ip are filled from it
  cidr VARCHAR(43) NOT NULL,
  first_ip VARBINARY(16) NULL,
  last_ip VARBINARY(16) NULL,
  prefix TINYINT UNSIGNED NULL,
  comment VARCHAR(255) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  created_by VARCHAR(64) NULL,
  UNIQUE KEY uq_whitelist_cidr (cidr),
  KEY ix_whitelist_range (first_ip, last_ip)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE Blacklist (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  cidr VARCHAR(43) NOT NULL,
  first_ip VARBINARY(16) NULL,
  last_ip VARBINARY(16) NULL,
  prefix TINYINT UNSIGNED NULL,
  -- where the entry came from (feed name, file, 'manual')
  source VARCHAR(64) NULL,
  comment VARCHAR(255) NULL,
  action ENUM('DROP','REJECT') NOT NULL DEFAULT 'DROP',
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  expires_at DATETIME(3) NULL,
  UNIQUE KEY uq_blacklist_cidr (cidr),
  KEY ix_blacklist_range (first_ip, last_ip)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What the DBA tunes: every enabled row is evaluated on each counted SensorLog insert.
CREATE TABLE Threshold (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(64) NOT NULL,
  enabled TINYINT(1) NOT NULL DEFAULT 1,
  -- what it counts; NULL = any
  proto VARCHAR(16) NULL,
  dst_port SMALLINT UNSIGNED NULL,
  sensor_id INT UNSIGNED NULL,
  -- how hits are grouped: src = per source address; src_dport = per source and destination
  -- port; src_dst_dport = per source, destination address and port; tuple = the paper's
  -- 4-tuple (source address and port, destination address and port)
  group_by ENUM('src','src_dport','src_dst_dport','tuple') NOT NULL DEFAULT 'src',
  -- tumbling windows of window_s seconds of event time; max_hits in one window triggers
  window_s INT UNSIGNED NOT NULL DEFAULT 1,
  max_hits INT UNSIGNED NOT NULL DEFAULT 50,
  action ENUM('DROP','REJECT') NOT NULL DEFAULT 'DROP',
  -- how long the rule lives from its creation; NULL = until dropped
  duration_s INT UNSIGNED NULL,
  description VARCHAR(255) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  UNIQUE KEY uq_threshold_name (name),
  CONSTRAINT ck_threshold_window CHECK (window_s >= 1),
  CONSTRAINT ck_threshold_hits CHECK (max_hits >= 1),
  CONSTRAINT fk_threshold_sensor FOREIGN KEY (sensor_id) REFERENCES Sensor (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO Threshold (name, enabled, group_by, window_s, max_hits, action, duration_s, description)
VALUES ('default', 1, 'src', 1, 50, 'DROP', NULL, 'the paper''s rule: 50 hits from one source within one second');

-- Hits per threshold, key and window. Written only by the SensorLog trigger. Key columns that
-- a threshold's grouping does not use hold '' or 0, never NULL, so that they collide.
CREATE TABLE ThresholdCounter (
  threshold_id INT UNSIGNED NOT NULL,
  src_ip VARBINARY(16) NOT NULL,
  -- FLOOR(seconds since 1970-01-01 UTC of the event / window_s)
  window_no BIGINT UNSIGNED NOT NULL,
  dst_ip VARBINARY(16) NOT NULL DEFAULT '',
  dst_port INT UNSIGNED NOT NULL DEFAULT 0,
  src_port INT UNSIGNED NOT NULL DEFAULT 0,
  proto VARCHAR(16) NOT NULL DEFAULT '',
  hits INT UNSIGNED NOT NULL,
  -- the threshold's max_hits as of the latest hit (a DBA's change applies at once)
  max_hits INT UNSIGNED NOT NULL,
  -- a rule was decided for this key and window (at most once)
  fired TINYINT(1) NOT NULL DEFAULT 0,
  -- the sensor of the latest hit
  sensor_id INT UNSIGNED NOT NULL,
  -- end of the window in event time, in seconds since 1970-01-01 UTC, for purging
  window_end BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (threshold_id, src_ip, window_no, dst_ip, dst_port, src_port, proto),
  KEY ix_counter_window_end (window_end)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE Device (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(64) NOT NULL,
  -- management address or host name (an address here is never blocked)
  host VARCHAR(255) NOT NULL,
  port SMALLINT UNSIGNED NOT NULL DEFAULT 22,
  -- nftables, iptables, ipset, cisco-ios, pf, routeros
  adapter VARCHAR(32) NOT NULL,
  -- ssh, local, dry-run
  transport VARCHAR(16) NOT NULL DEFAULT 'ssh',
  username VARCHAR(64) NULL,
  -- path of the private key or a secret reference; never the key itself
  key_ref VARCHAR(512) NULL,
  -- pinned host key fingerprint, OpenSSH form SHA256:base64
  host_key VARCHAR(128) NULL,
  -- adapter options as JSON text (table and set names, ACL name...)
  options TEXT NULL,
  enabled TINYINT(1) NOT NULL DEFAULT 1,
  -- which rules it takes: about external sources, internal sources, or any
  applies_to ENUM('external','internal','any') NOT NULL DEFAULT 'any',
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  last_ok_at DATETIME(3) NULL,
  last_error VARCHAR(1024) NULL,
  UNIQUE KEY uq_device_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One decision: which traffic, what to do, why, and where it is in its lifecycle.
CREATE TABLE Rule (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  -- first address of the source range
  src_ip VARBINARY(16) NOT NULL,
  -- prefix length of the source range (32 or 128 for one address); derived when NULL
  src_prefix TINYINT UNSIGNED NULL,
  -- last address of the source range; derived
  src_last VARBINARY(16) NULL,
  dst_ip VARBINARY(16) NULL,
  dst_port SMALLINT UNSIGNED NULL,
  proto VARCHAR(16) NULL,
  action ENUM('DROP','REJECT') NOT NULL DEFAULT 'DROP',
  origin ENUM('threshold','blacklist','manual') NOT NULL DEFAULT 'manual',
  threshold_id INT UNSIGNED NULL,
  blacklist_id BIGINT UNSIGNED NULL,
  -- the sensor whose hit crossed the threshold
  sensor_id INT UNSIGNED NULL,
  hits INT UNSIGNED NOT NULL DEFAULT 0,
  reason VARCHAR(255) NULL,
  status ENUM('pending','active','disabled','dropped','expired') NOT NULL DEFAULT 'pending',
  -- internal when the source lies inside a Network range; derived
  scope ENUM('external','internal') NOT NULL DEFAULT 'external',
  -- 1 when the devices were chosen by hand: devices added later do not get it
  targeted TINYINT(1) NOT NULL DEFAULT 0,
  created_by VARCHAR(64) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  updated_at DATETIME(3) NULL,
  expires_at DATETIME(3) NULL,
  -- the traffic key of an open (pending, active or disabled) rule; NULL once closed. Built from
  -- every traffic column with NULL spelled '*', so that rules differing only in NULLs collide.
  open_key VARCHAR(120) CHARACTER SET ascii COLLATE ascii_bin GENERATED ALWAYS AS (
    IF(status IN ('pending','active','disabled'),
       CONCAT(HEX(src_ip), '/', IFNULL(src_prefix, '*'), '>', IFNULL(HEX(dst_ip), '*'), ':',
              IFNULL(dst_port, '*'), '/', IFNULL(proto, '*')),
       NULL)) STORED,
  UNIQUE KEY uq_rule_open (open_key),
  KEY ix_rule_src (src_ip),
  KEY ix_rule_status_expires (status, expires_at),
  KEY ix_rule_created (created_at),
  KEY ix_rule_blacklist (blacklist_id),
  CONSTRAINT fk_rule_threshold FOREIGN KEY (threshold_id) REFERENCES Threshold (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What one device should have (desired) and has (state) for one rule.
CREATE TABLE RuleDevice (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  rule_id BIGINT UNSIGNED NOT NULL,
  device_id INT UNSIGNED NOT NULL,
  desired ENUM('present','absent') NOT NULL DEFAULT 'present',
  state ENUM('pending','applied','failed','removed') NOT NULL DEFAULT 'pending',
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  last_error VARCHAR(1024) NULL,
  applied_at DATETIME(3) NULL,
  removed_at DATETIME(3) NULL,
  -- when the worker may try next (backoff after a failure)
  next_attempt_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  -- the worker that claimed the row, and until when the claim holds (stale claims are taken over)
  claimed_by VARCHAR(64) NULL,
  claimed_until DATETIME(3) NULL,
  -- bumped on every change of desired: a worker's result only counts for the version it claimed
  version INT UNSIGNED NOT NULL DEFAULT 0,
  updated_at DATETIME(3) NULL,
  UNIQUE KEY uq_ruledevice (rule_id, device_id),
  KEY ix_ruledevice_due (state, next_attempt_at),
  KEY ix_ruledevice_device (device_id, state),
  CONSTRAINT fk_ruledevice_rule FOREIGN KEY (rule_id) REFERENCES Rule (id) ON DELETE CASCADE,
  CONSTRAINT fk_ruledevice_device FOREIGN KEY (device_id) REFERENCES Device (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
