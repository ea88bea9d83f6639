-- The prefix lengths the whitelist uses, per address length (4: IPv4, 16: IPv6). "Is any
-- address of this range whitelisted?" is asked of every threshold crossing and every rule
-- written (a 100k-entry feed: 100k times). As a range scan of the entries that start at or
-- below the address it read every such entry: with a 20k-entry whitelist (a provider's
-- published ranges) some 3 ms a question. An entry holds an address when its start is the
-- address cut to the entry's own length, so ipms_protected asks one index look-up per length
-- listed here (a handful), plus a range scan of the entries that start inside the range.
-- The Whitelist triggers add a length when an entry brings a new one; a length no entry has
-- any more is left (it costs one look-up, and a missing one would miss entries).
CREATE TABLE WhitelistPrefix (
  len TINYINT UNSIGNED NOT NULL,
  prefix TINYINT UNSIGNED NOT NULL,
  PRIMARY KEY (len, prefix)
) ENGINE=InnoDB;

-- every entry has its prefix (the Whitelist triggers derive it from the text)
UPDATE Whitelist SET cidr = cidr WHERE prefix IS NULL OR first_ip IS NULL;

INSERT INTO WhitelistPrefix (len, prefix)
SELECT DISTINCT LENGTH(first_ip), prefix FROM Whitelist WHERE first_ip IS NOT NULL AND prefix IS NOT NULL;
