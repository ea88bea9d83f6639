-- A blacklist entry changed by hand or renewed by a feed.
--  * Another range (a DBA's UPDATE of cidr): the rule of the old range is dropped (and no
--    longer counts as the entry's), and a rule for the new range is made.
--  * Renewed (a feed imported again with a new expiry, or a DBA's UPDATE of expires_at or
--    action): its open rule follows, and is put on the devices again with the new expiry
--    (Rule_before_update). An entry whose rule has expired (or been pruned) gets a new one: a
--    feed refreshed from cron keeps its addresses blocked. A rule an admin dropped or disabled
--    stays so (to never block an address: the whitelist).
CREATE TRIGGER Blacklist_after_update AFTER UPDATE ON Blacklist FOR EACH ROW
BEGIN
  IF NOT (NEW.first_ip <=> OLD.first_ip) OR NOT (NEW.prefix <=> OLD.prefix) THEN
    UPDATE Rule
    SET status = IF(status IN ('pending', 'active', 'disabled'), 'dropped', status), blacklist_id = NULL,
        reason = LEFT(CONCAT(IFNULL(reason, ''), ' [blacklist entry ', NEW.id, ' now ', NEW.cidr, ']'), 255)
    WHERE blacklist_id = NEW.id AND origin = 'blacklist';
    CALL ipms_blacklist_rule(NEW.id, NEW.first_ip, NEW.prefix, NEW.action, NEW.source, NEW.comment, NEW.expires_at);
  ELSEIF NOT (NEW.expires_at <=> OLD.expires_at) OR NOT (NEW.action <=> OLD.action) THEN
    -- (a disabled rule takes the new expiry too and stays disabled: expired, it would come back)
    UPDATE Rule SET expires_at = NEW.expires_at, action = NEW.action
    WHERE blacklist_id = NEW.id AND origin = 'blacklist' AND status IN ('pending', 'active', 'disabled');
    IF NOT EXISTS (SELECT 1 FROM Rule WHERE blacklist_id = NEW.id AND status IN ('pending', 'active', 'disabled', 'dropped')) THEN
      CALL ipms_blacklist_rule(NEW.id, NEW.first_ip, NEW.prefix, NEW.action, NEW.source, NEW.comment, NEW.expires_at);
    END IF;
  END IF;
END
