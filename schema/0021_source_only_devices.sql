-- Devices that hold source addresses only (ipset sets, pf tables, RouterOS address lists) no
-- longer take rules that name a destination, protocol or port (see Rule_after_insert): such a
-- row failed there for good, with its backoff, kept its rule pending, and made every
-- `ipms apply --once` exit non-zero. The rows of that kind the triggers made before, which
-- never got onto their device, go; rules chosen for named devices by hand keep theirs (they
-- fail visibly: the admin named that device). Rules whose other devices all hold them become
-- active.
DELETE rd FROM RuleDevice rd
  JOIN Device d ON d.id = rd.device_id
  JOIN Rule r ON r.id = rd.rule_id
WHERE d.adapter IN ('ipset', 'pf', 'routeros') AND r.targeted = 0 AND rd.applied_at IS NULL
  AND (r.dst_ip IS NOT NULL OR r.dst_port IS NOT NULL OR r.proto IS NOT NULL);

UPDATE Rule r SET r.status = 'active'
WHERE r.status = 'pending'
  AND EXISTS (SELECT 1 FROM RuleDevice y WHERE y.rule_id = r.id AND y.desired = 'present')
  AND NOT EXISTS (SELECT 1 FROM RuleDevice z WHERE z.rule_id = r.id AND z.desired = 'present' AND z.state <> 'applied');
