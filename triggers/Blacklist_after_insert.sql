-- A blacklist entry becomes a rule (origin 'blacklist'). Rule_before_insert refuses a range that
-- overlaps a whitelist entry, which makes the blacklist insert itself fail with that reason.
CREATE TRIGGER Blacklist_after_insert AFTER INSERT ON Blacklist FOR EACH ROW
BEGIN
  INSERT INTO Rule (src_ip, src_prefix, action, origin, blacklist_id, reason, status, expires_at)
  VALUES (NEW.first_ip, NEW.prefix, NEW.action, 'blacklist', NEW.id,
          LEFT(CONCAT('blacklist', IF(NEW.source IS NULL, '', CONCAT(' ', NEW.source)),
                      IF(NEW.comment IS NULL, '', CONCAT(': ', NEW.comment))), 255),
          'pending', NEW.expires_at)
  ON DUPLICATE KEY UPDATE Rule.blacklist_id = IFNULL(Rule.blacklist_id, VALUES(blacklist_id));
END
