-- Devices: worker leases, and sudo for a non-root login.
--
-- One worker per device at a time. Claiming RuleDevice rows alone let two workers work on
-- the same device at once (each with its own rows), and for adapters that rewrite their
-- objects whole (iptables always, the others when a delta does not fit) the later write
-- would have thrown away the earlier one's rules while the database said they were applied.
-- A worker now first leases the Device row (for the length of a batch), then claims its
-- rows; a dead worker's lease lapses at claimed_until, as its row claims do.
-- Columns are added at the end of the table: an instant ALTER on MySQL 8.0 and MariaDB 10.3+.

-- sudo = 1: the device's login is an unprivileged user, and every command is run as
-- `sudo -n -- COMMAND ...` (the device's sudoers allows exactly the firewall tools).

ALTER TABLE Device
  -- the worker (or CLI command) working on the device, and until when its lease holds
  ADD COLUMN claimed_by VARCHAR(64) NULL,
  ADD COLUMN claimed_until DATETIME(3) NULL,
  ADD COLUMN sudo TINYINT(1) NOT NULL DEFAULT 0;
