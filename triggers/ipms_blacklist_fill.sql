-- A blacklist entry's columns from its text (see ipms_cidr_fill), and what a blacklist may not
-- hold: a feed lists the bogons (the private ranges, 0.0.0.0/8: the source of every DHCP
-- request), and blocked as sources they cut off the inside network, which is never what
-- importing a feed means; nor may a range no packet comes from (NoSourceRange).
-- `ipms blacklist import` refuses these entries one by one; a DBA's
-- INSERT is refused here the same way. An inside host is blocked with a rule (ipms rules add).
CREATE PROCEDURE ipms_blacklist_fill(INOUT p_cidr VARCHAR(64), INOUT p_first VARBINARY(16), INOUT p_last VARBINARY(16), INOUT p_prefix INT)
BEGIN
  DECLARE v_what VARCHAR(100);
  DECLARE v_msg VARCHAR(255);
  CALL ipms_cidr_fill(p_cidr, p_first, p_last, p_prefix);
  SET v_what = COALESCE(
    (SELECT CONCAT('the internal network ', n.cidr) FROM Network n
     WHERE n.first_ip <= p_last AND n.last_ip >= p_first AND LENGTH(n.first_ip) = LENGTH(p_first) LIMIT 1),
    (SELECT CONCAT(n.description, ' ', n.cidr) FROM NoSourceRange n
     WHERE n.first_ip <= p_last AND n.last_ip >= p_first AND LENGTH(n.first_ip) = LENGTH(p_first)
     ORDER BY n.prefix DESC LIMIT 1));
  IF v_what IS NOT NULL THEN
    -- (MySQL refuses a MESSAGE_TEXT over 128 characters with another error)
    SET v_msg = LEFT(CONCAT('ipms: refused to blacklist ', p_cidr, ': it overlaps ', v_what, ' (inside: use a rule)'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
END
