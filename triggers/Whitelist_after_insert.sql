-- Whitelisting a range drops every open rule that would block any address in it.
CREATE TRIGGER Whitelist_after_insert AFTER INSERT ON Whitelist FOR EACH ROW
BEGIN
  UPDATE Rule
  SET status = 'dropped', reason = LEFT(CONCAT(IFNULL(reason, ''), ' [dropped: whitelisted ', NEW.cidr, ']'), 255)
  WHERE status IN ('pending', 'active', 'disabled')
    AND src_ip <= NEW.last_ip AND src_last >= NEW.first_ip AND LENGTH(src_ip) = LENGTH(NEW.first_ip);
END
