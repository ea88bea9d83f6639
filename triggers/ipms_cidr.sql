-- Parse 'ADDR' or 'ADDR/LEN' (IPv4 or IPv6) into the first and last address of the range and
-- the prefix length; signals SQLSTATE 45000 on bad input. A procedure rather than a function:
-- with the binary log on, stored functions need extra privileges and DETERMINISTIC promises,
-- procedures do not. The masking works byte by byte because MariaDB has no bit operations on
-- binary strings (MySQL 8 does).
CREATE PROCEDURE ipms_cidr(IN p_cidr VARCHAR(64), OUT p_first VARBINARY(16), OUT p_last VARBINARY(16), OUT p_prefix INT)
BEGIN
  DECLARE v_addr VARBINARY(16);
  DECLARE v_bytes INT;
  DECLARE v_len VARCHAR(16);
  DECLARE v_full INT;
  DECLARE v_rem INT;
  DECLARE v_byte INT;
  DECLARE v_msg VARCHAR(160);
  -- (INET6_ATON of text that is no address warns on MySQL, an error in a stored program under
  -- strict mode: only an address reaches it, the rest is our own message below)
  SET v_addr = IF(IS_IPV4(TRIM(SUBSTRING_INDEX(p_cidr, '/', 1))) OR IS_IPV6(TRIM(SUBSTRING_INDEX(p_cidr, '/', 1))),
                  INET6_ATON(TRIM(SUBSTRING_INDEX(p_cidr, '/', 1))), NULL);
  IF v_addr IS NULL THEN
    SET v_msg = CONCAT('ipms: not an IP address or CIDR: ', LEFT(IFNULL(p_cidr, 'NULL'), 64));
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  SET v_bytes = LENGTH(v_addr);
  IF LOCATE('/', p_cidr) > 0 THEN
    SET v_len = TRIM(SUBSTRING(p_cidr, LOCATE('/', p_cidr) + 1));
    IF v_len NOT REGEXP '^[0-9]{1,3}$' OR CAST(v_len AS UNSIGNED) > v_bytes * 8 THEN
      SET v_msg = CONCAT('ipms: bad prefix length in ', LEFT(p_cidr, 64));
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    SET p_prefix = CAST(v_len AS UNSIGNED);
  ELSE
    SET p_prefix = v_bytes * 8;
  END IF;
  -- an IPv4-mapped address (::ffff:192.0.2.1) is its IPv4 address: kept as IPv6 it would slip
  -- past every IPv4 whitelist entry and match no IPv4 packet (lib/ip.ts does the same)
  IF v_bytes = 16 AND LEFT(v_addr, 12) = UNHEX('00000000000000000000FFFF') AND p_prefix >= 96 THEN
    SET v_addr = RIGHT(v_addr, 4), v_bytes = 4, p_prefix = p_prefix - 96;
  END IF;
  SET v_full = p_prefix DIV 8;
  SET v_rem = p_prefix MOD 8;
  IF v_rem = 0 THEN
    SET p_first = CONCAT(LEFT(v_addr, v_full), REPEAT(UNHEX('00'), v_bytes - v_full));
    SET p_last = CONCAT(LEFT(v_addr, v_full), REPEAT(UNHEX('FF'), v_bytes - v_full));
  ELSE
    SET v_byte = ORD(SUBSTRING(v_addr, v_full + 1, 1));
    SET p_first = CONCAT(LEFT(v_addr, v_full), CHAR(v_byte & ((255 << (8 - v_rem)) & 255)),
                         REPEAT(UNHEX('00'), v_bytes - v_full - 1));
    SET p_last = CONCAT(LEFT(v_addr, v_full), CHAR(v_byte | ((1 << (8 - v_rem)) - 1)),
                        REPEAT(UNHEX('FF'), v_bytes - v_full - 1));
  END IF;
END
