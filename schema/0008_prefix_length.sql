-- The prefix lengths 0..128, one row each. "Which open rules cover this address?" is asked of
-- every threshold crossing and every newly protected address. A rule covers an address when its
-- start is that address cut to the rule's own prefix length, so the answer is one index look-up
-- per possible length (8..32 for IPv4, 16..128 for IPv6: a join with this table), however many
-- rules there are. A range scan of the rules that start at or below the address reads every
-- rule of its /8 (or the whole table), and a blacklist can hold 100k of them.
CREATE TABLE PrefixLength (
  n TINYINT UNSIGNED NOT NULL PRIMARY KEY
) ENGINE=InnoDB;

INSERT INTO PrefixLength (n)
WITH RECURSIVE s (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < 128)
SELECT n FROM s;
