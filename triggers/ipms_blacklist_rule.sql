-- The rule of a blacklist entry (origin 'blacklist'), for a new entry and for one renewed
-- without an open rule. Where an open rule of the same traffic exists (a manual one, or the
-- rule of an overlapping feed entry), that rule is kept and linked to the entry instead.
-- Rule_before_insert refuses a range that overlaps a protected one, which makes the blacklist
-- write itself fail with that reason.
CREATE PROCEDURE ipms_blacklist_rule(
  IN p_id BIGINT UNSIGNED, IN p_first VARBINARY(16), IN p_prefix INT, IN p_action VARCHAR(8),
  IN p_source VARCHAR(64), IN p_comment VARCHAR(255), IN p_expires DATETIME(3))
BEGIN
  INSERT INTO Rule (src_ip, src_prefix, action, origin, blacklist_id, reason, status, expires_at)
  VALUES (p_first, p_prefix, p_action, 'blacklist', p_id,
          LEFT(CONCAT('blacklist', IF(p_source IS NULL, '', CONCAT(' ', p_source)),
                      IF(p_comment IS NULL, '', CONCAT(': ', p_comment))), 255),
          'pending', p_expires)
  ON DUPLICATE KEY UPDATE Rule.blacklist_id = IFNULL(Rule.blacklist_id, p_id);
END
