-- Drops every open rule that would block any address of a range that has just become protected
-- (a whitelist entry, a honeypot, a sensor's or a device's management address): whitelisted
-- and management addresses are never blocked, also when the rule came first. p_why ends up
-- in the rule's reason. The Rule trigger turns each drop into removals on the devices.
CREATE PROCEDURE ipms_drop_covering(IN p_first VARBINARY(16), IN p_last VARBINARY(16), IN p_why VARCHAR(200))
BEGIN
  IF p_first IS NOT NULL AND p_last IS NOT NULL THEN
    -- A rule overlaps the range when it contains p_first or starts inside the range. The first
    -- are one look-up per prefix length (see PrefixLength), the second a range scan of
    -- ix_rule_src as long as the range itself: neither reads (and locks) every rule, which a
    -- honeypot address registered by the ingest would otherwise pay.
    UPDATE PrefixLength pl STRAIGHT_JOIN Rule r
      ON r.src_ip = IF(LENGTH(p_first) = 4,
          UNHEX(LPAD(HEX(CAST(CONV(HEX(p_first), 16, 10) AS UNSIGNED) & pl.mask4), 8, '0')),
          CONCAT(UNHEX(LPAD(HEX(CAST(CONV(HEX(LEFT(p_first, 8)), 16, 10) AS UNSIGNED) & pl.mask_hi), 16, '0')),
                 UNHEX(LPAD(HEX(CAST(CONV(HEX(RIGHT(p_first, 8)), 16, 10) AS UNSIGNED) & pl.mask_lo), 16, '0'))))
     AND r.src_prefix = pl.n
    SET r.status = 'dropped', r.reason = LEFT(CONCAT(IFNULL(r.reason, ''), ' [dropped: ', p_why, ']'), 255)
    WHERE pl.n BETWEEN IF(LENGTH(p_first) = 4, 8, 16) AND LENGTH(p_first) * 8
      AND r.status IN ('pending', 'active', 'disabled');
    UPDATE Rule
    SET status = 'dropped', reason = LEFT(CONCAT(IFNULL(reason, ''), ' [dropped: ', p_why, ']'), 255)
    WHERE src_ip > p_first AND src_ip <= p_last AND LENGTH(src_ip) = LENGTH(p_first)
      AND status IN ('pending', 'active', 'disabled');
  END IF;
END
