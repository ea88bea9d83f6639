-- Drops every open rule that would block any address of a range that has just become protected
-- (a whitelist entry, a honeypot, a sensor's or a device's management address): whitelisted
-- and management addresses are never blocked, also when the rule came first. p_why ends up
-- in the rule's reason. The Rule trigger turns each drop into removals on the devices.
CREATE PROCEDURE ipms_drop_covering(IN p_first VARBINARY(16), IN p_last VARBINARY(16), IN p_why VARCHAR(200))
BEGIN
  IF p_first IS NOT NULL AND p_last IS NOT NULL THEN
    UPDATE Rule
    SET status = 'dropped', reason = LEFT(CONCAT(IFNULL(reason, ''), ' [dropped: ', p_why, ']'), 255)
    WHERE status IN ('pending', 'active', 'disabled')
      AND src_ip <= p_last AND src_last >= p_first AND LENGTH(src_ip) = LENGTH(p_first);
  END IF;
END
