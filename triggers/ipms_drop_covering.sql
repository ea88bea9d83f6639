-- Drops every open rule that would block any address of a range that has just become protected
-- (a whitelist entry, a honeypot, a sensor's or a device's management address): whitelisted
-- and management addresses are never blocked, also when the rule came first. p_why ends up
-- in the rule's reason. The Rule trigger turns each drop into removals on the devices.
CREATE PROCEDURE ipms_drop_covering(IN p_first VARBINARY(16), IN p_last VARBINARY(16), IN p_why VARCHAR(200))
BEGIN
  IF p_first IS NOT NULL AND p_last IS NOT NULL THEN
    -- A rule that overlaps the range and starts before it contains p_first, and no rule is
    -- wider than /8 (IPv4) or /16 (IPv6): so its start is at least p_first cut to that prefix.
    -- That lower bound makes this a short range scan of ix_rule_src instead of a scan (and
    -- lock) of every rule, which a honeypot address registered by the ingest would pay.
    UPDATE Rule
    SET status = 'dropped', reason = LEFT(CONCAT(IFNULL(reason, ''), ' [dropped: ', p_why, ']'), 255)
    WHERE src_ip >= IF(LENGTH(p_first) = 4, CONCAT(LEFT(p_first, 1), UNHEX('000000')), CONCAT(LEFT(p_first, 2), UNHEX('0000000000000000000000000000')))
      AND src_ip <= p_last AND src_last >= p_first AND LENGTH(src_ip) = LENGTH(p_first)
      AND status IN ('pending', 'active', 'disabled');
  END IF;
END
