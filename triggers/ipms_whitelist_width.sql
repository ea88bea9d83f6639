-- No whitelist entry wider than a rule may be (/8 IPv4, /16 IPv6), but for the inside IPv6
-- ranges (all of unique-local fc00::/7, link-local fe80::/10): a slip (0.0.0.0/0, 2000::/3)
-- would drop every open rule in it at once, and they do not come back with its removal.
CREATE PROCEDURE ipms_whitelist_width(IN p_cidr VARCHAR(64), IN p_first VARBINARY(16), IN p_prefix INT)
BEGIN
  DECLARE v_msg VARCHAR(255);
  IF IF(LENGTH(p_first) = 4, p_prefix < 8,
        p_prefix < 16 AND NOT (p_prefix >= 7 AND (ORD(p_first) & 254) = 252)
                      AND NOT (p_prefix >= 10 AND LEFT(HEX(p_first), 3) IN ('FE8', 'FE9', 'FEA', 'FEB'))) THEN
    -- (MySQL keeps 128 characters of a message: the longest CIDR text is 43)
    SET v_msg = CONCAT('ipms: whitelist entry ', p_cidr, ' is wider than /8 (IPv4) or /16 (IPv6 but fc00::/7, fe80::/10)');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
END
