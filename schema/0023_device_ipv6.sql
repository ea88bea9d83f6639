-- A device whose adapter option `ipv6` is false (iptables, ipset, RouterOS on a box without
-- IPv6 filtering) no longer takes IPv6 rules. Each such rule gave it a row that failed there for
-- good ("IPv6 is turned off for this device"), with its backoff: the rule stayed pending, and
-- every `ipms apply --once` exited non-zero. Device.ipv6 is that option as the triggers read it
-- (kept from `options` by Device_before_insert and Device_before_update; see Rule_after_insert).
ALTER TABLE Device ADD COLUMN ipv6 TINYINT(1) NOT NULL DEFAULT 1
  COMMENT '0: the adapter option ipv6 is false, and the device takes no IPv6 rule (kept from options by the Device triggers)';

UPDATE Device SET ipv6 = 0
-- (JSON_EXTRACT inside IF: MySQL refuses text that is not JSON, MariaDB gives NULL)
WHERE IF(JSON_VALID(options), JSON_UNQUOTE(JSON_EXTRACT(options, '$.ipv6')), NULL) = 'false';

-- The rows of that kind made before, which never got onto their device, go (rules chosen for
-- named devices by hand keep theirs: they fail visibly, as the admin named that device); rules
-- whose other devices all hold them become active.
DELETE rd FROM RuleDevice rd
  JOIN Device d ON d.id = rd.device_id
  JOIN Rule r ON r.id = rd.rule_id
WHERE d.ipv6 = 0 AND LENGTH(r.src_ip) = 16 AND r.targeted = 0 AND rd.applied_at IS NULL;

-- Those it holds (IPv6 turned off after they got there) are no longer wanted there, as when
-- IPv6 is turned off now (Device_after_update): the worker's adapter no longer touches IPv6 on
-- the device, so their entries stay where they are (`ipms db migrate` names the devices). Left
-- present, an iptables or ipset device refused every batch: its full render held rules it
-- may not carry.
UPDATE RuleDevice rd
  JOIN Device d ON d.id = rd.device_id
  JOIN Rule r ON r.id = rd.rule_id
SET rd.desired = 'absent', rd.state = 'pending', rd.attempts = 0, rd.last_error = NULL,
    rd.next_attempt_at = UTC_TIMESTAMP(3), rd.version = rd.version + 1, rd.updated_at = UTC_TIMESTAMP(3)
WHERE d.ipv6 = 0 AND LENGTH(r.src_ip) = 16 AND r.targeted = 0 AND rd.desired = 'present';

UPDATE Rule r SET r.status = 'active'
WHERE r.status = 'pending'
  AND EXISTS (SELECT 1 FROM RuleDevice y WHERE y.rule_id = r.id AND y.desired = 'present')
  AND NOT EXISTS (SELECT 1 FROM RuleDevice z WHERE z.rule_id = r.id AND z.desired = 'present' AND z.state <> 'applied');
