-- The web console (`ipms serve`): its users, their sessions, the secret it keys tokens with,
-- and the audit log of every change made through the console or `ipms users`.

-- People who may log in to the console. viewer reads everything; admin may also change.
CREATE TABLE WebUser (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(64) NOT NULL,
  role ENUM('admin','viewer') NOT NULL DEFAULT 'viewer',
  -- PHC string of a scrypt hash: $scrypt$ln=15,r=8,p=1$<salt>$<hash> (base64, no padding)
  password_hash VARCHAR(255) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  last_login_at DATETIME(3) NULL,
  UNIQUE KEY uq_webuser_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Secrets the console makes on its first start (INSERT IGNORE, so two servers starting at
-- once agree on one). A table of its own rather than a Setting row: the worker may read
-- Setting, and has no business reading this.
CREATE TABLE WebSecret (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  value VARBINARY(64) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Logged-in sessions. The cookie holds a random id; only its SHA-256 is stored, so a copy of
-- this table (a backup, a replica) does not let anyone in.
CREATE TABLE WebSession (
  id_hash VARBINARY(32) NOT NULL PRIMARY KEY,
  user_id INT UNSIGNED NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  -- refreshed at most once a minute; a session idle for longer than the idle limit is over
  last_seen_at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  -- absolute end, however active the session is
  expires_at DATETIME(3) NOT NULL,
  -- the client address at login, for people
  ip VARCHAR(45) NULL,
  -- a one-shot message for the next page (the outcome of the last change)
  flash VARCHAR(512) NULL,
  KEY ix_websession_expires (expires_at),
  CONSTRAINT fk_websession_user FOREIGN KEY (user_id) REFERENCES WebUser (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Who changed what, and when. Written in the same transaction as the change it records.
-- Failed logins are kept here too: the console's login throttle counts them.
CREATE TABLE AuditLog (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  at DATETIME(3) NOT NULL DEFAULT (UTC_TIMESTAMP(3)),
  -- the console user, or the system user who ran `ipms users`
  who VARCHAR(64) NOT NULL,
  via ENUM('web','cli') NOT NULL DEFAULT 'web',
  -- client address of a web request
  ip VARCHAR(45) NULL,
  -- what was done: rule.disable, whitelist.add, threshold.set, user.add, login.failed, ...
  action VARCHAR(32) NOT NULL,
  -- what it was done to: 'rule 42', '192.0.2.0/24', 'threshold default', a user name
  target VARCHAR(128) NULL,
  -- the particulars as JSON (values before and after, dropped rules, ...)
  detail TEXT NULL,
  KEY ix_auditlog_at (at),
  KEY ix_auditlog_action_at (action, at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
