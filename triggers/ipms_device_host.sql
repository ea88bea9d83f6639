-- A device's host as every part of ipms reads it. An address is stored in its canonical text
-- (an IPv4-mapped ::ffff:a.b.c.d as a.b.c.d): the protected-address checks compare bytes of
-- one length, and a mapped form of a device's management address slipped past all of them (a
-- rule blocking it was sent to the device). Text that one reader takes for an address and
-- another for something else is refused: an IPv4 octet with a leading zero (decimal here,
-- octal to the SSH client's resolver: 198.051.100.7 protected 198.51.100.7 while the worker
-- connected to 198.41.100.7), and the numeric shorthands a resolver reads as an address
-- (3325256711, 0xc6.0x33.0x64.7, 198.51.25863) while the database sees a name.
CREATE PROCEDURE ipms_device_host(INOUT p_host VARCHAR(255))
BEGIN
  DECLARE v_bytes VARBINARY(16);
  DECLARE v_msg VARCHAR(255);
  -- (no blank or control character: MariaDB's $ also matches before a final line break)
  IF p_host REGEXP '[[:space:][:cntrl:]]' THEN
    SET v_msg = LEFT(CONCAT('ipms: Device.host ', HEX(LEFT(p_host, 40)), ' (hex): holds a blank or control character'), 255);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF IS_IPV4(p_host) AND p_host REGEXP '(^|[.])0[0-9]' THEN
    SET v_msg = LEFT(CONCAT('ipms: Device.host ', p_host, ': an IPv4 number with a leading zero (octal to some tools); write it without'), 255);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF IS_IPV4(p_host) OR IS_IPV6(p_host) THEN
    SET v_bytes = INET6_ATON(p_host);
    IF LENGTH(v_bytes) = 16 AND LEFT(v_bytes, 12) = UNHEX('00000000000000000000FFFF') THEN
      SET v_bytes = RIGHT(v_bytes, 4);
    END IF;
    -- ::a.b.c.d, the deprecated IPv4-compatible form (INET6_NTOA would write ::102:304 so)
    IF LENGTH(v_bytes) = 16 AND LEFT(v_bytes, 12) = UNHEX('000000000000000000000000') AND v_bytes NOT IN (INET6_ATON('::1'), INET6_ATON('::')) THEN
      SET v_msg = LEFT(CONCAT('ipms: Device.host ', p_host, ': the deprecated IPv4-compatible form; write the IPv4 address'), 255);
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    -- no device is at an address no packet comes from or goes to as one host: the unspecified
    -- addresses, 0.0.0.0/8, the limited broadcast, multicast
    IF v_bytes = INET6_ATON('::') OR LEFT(v_bytes, 1) = UNHEX('00') AND LENGTH(v_bytes) = 4
       OR v_bytes = INET6_ATON('255.255.255.255')
       OR (LENGTH(v_bytes) = 4 AND ASCII(v_bytes) BETWEEN 224 AND 239) OR (LENGTH(v_bytes) = 16 AND ASCII(v_bytes) = 255) THEN
      SET v_msg = LEFT(CONCAT('ipms: Device.host ', p_host, ': an unspecified, broadcast or multicast address, where no device is'), 255);
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    SET p_host = INET6_NTOA(v_bytes);
  ELSEIF p_host REGEXP '^(0[xX][0-9a-fA-F]*|[0-9]+)([.](0[xX][0-9a-fA-F]*|[0-9]+))*[.]?$'
         OR NOT (p_host REGEXP '^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$') THEN
    SET v_msg = LEFT(CONCAT('ipms: Device.host ', p_host, ': neither an IP address in standard form nor a host name'), 255);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  ELSE
    SET p_host = LOWER(p_host);
  END IF;
END
