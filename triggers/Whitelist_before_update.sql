-- first_ip, last_ip and prefix from the cidr text, and the canonical text (see ipms_cidr_fill);
-- no entry wider than /8 (IPv4) or /16 (IPv6, but for the inside ranges).
CREATE TRIGGER Whitelist_before_update BEFORE UPDATE ON Whitelist FOR EACH ROW
BEGIN
  CALL ipms_cidr_fill(NEW.cidr, NEW.first_ip, NEW.last_ip, NEW.prefix);
  -- No wider than a rule may be (/8 IPv4, /16 IPv6), but for the inside IPv6 ranges (all of
  -- unique-local fc00::/7, link-local fe80::/10): a slip (0.0.0.0/0, 2000::/3) would drop every
  -- open rule in it at once, and they do not come back with its removal
  IF IF(LENGTH(NEW.first_ip) = 4, NEW.prefix < 8,
        NEW.prefix < 16 AND NOT (NEW.prefix >= 7 AND (ORD(NEW.first_ip) & 254) = 252)
                        AND NOT (NEW.prefix >= 10 AND LEFT(HEX(NEW.first_ip), 3) IN ('FE8', 'FE9', 'FEA', 'FEB'))) THEN
   BEGIN
    DECLARE v_msg VARCHAR(255) DEFAULT CONCAT('ipms: whitelist entry ', NEW.cidr,
      ' is wider than /8 (IPv4) or /16 (IPv6, but for fc00::/7 and fe80::/10): it would drop every rule in it; whitelist narrower ranges');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
   END;
  END IF;
END
