-- Open range rules (a source wider than one address), indexed. Every device batch asks for the
-- range rules applied on the device: an interval set (nftables, ipset) refuses an address that
-- falls inside a range it holds, so the adapters must see them. Asked through RuleDevice it read
-- every rule the device holds: ~0.25 s a batch with 100k rules on the device (permanent
-- threshold rules pile up), paid by every daemon round. Through this index it reads the open
-- range rules only. A rule on a device (desired 'present') is open: closing it makes its rows
-- 'absent' (Rule_before_update). STORED: the column is written with the row, no index on a
-- virtual column (whose upkeep under the foreign-key cascades has a history of server bugs).
ALTER TABLE Rule
  ADD COLUMN open_range TINYINT UNSIGNED
    GENERATED ALWAYS AS (IF(status IN ('pending', 'active') AND src_prefix < LENGTH(src_ip) * 8, 1, NULL)) STORED,
  ADD KEY ix_rule_open_range (open_range);
