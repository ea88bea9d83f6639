-- first_ip, last_ip and prefix from the cidr text, and the canonical text (see ipms_cidr_fill);
-- no entry wider than /8 (IPv4) or /7 (IPv6).
CREATE TRIGGER Whitelist_before_update BEFORE UPDATE ON Whitelist FOR EACH ROW
BEGIN
  CALL ipms_cidr_fill(NEW.cidr, NEW.first_ip, NEW.last_ip, NEW.prefix);
  -- wider than any rule may be (/8 IPv4), or than all unique-local IPv6 (fc00::/7): a slip
  -- (0.0.0.0/0) would drop every open rule at once, and they do not come back with its removal
  IF NEW.prefix < IF(LENGTH(NEW.first_ip) = 4, 8, 7) THEN
   BEGIN
    DECLARE v_msg VARCHAR(255) DEFAULT CONCAT('ipms: whitelist entry ', NEW.cidr,
      ' is wider than /8 (IPv4) or /7 (IPv6): it would drop every rule in it; whitelist narrower ranges');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
   END;
  END IF;
END
