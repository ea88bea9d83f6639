-- Canonical source range, derived columns, and the last line of defence: a rule that would
-- block a protected address (whitelist, sensor, honeypot, device) is refused with an error
-- that names what protects it. The threshold path checks first and never gets here with one.
-- Nor does ipms block a range wider than /8 (IPv4) or /16 (IPv6).
CREATE TRIGGER Rule_before_insert BEFORE INSERT ON Rule FOR EACH ROW
BEGIN
  DECLARE v_first VARBINARY(16);
  DECLARE v_last VARBINARY(16);
  DECLARE v_prefix INT;
  DECLARE v_what VARCHAR(200);
  DECLARE v_msg VARCHAR(255);
  -- A session may set its own clock (SET timestamp needs no privilege): a sensor's account
  -- could then write a rule created years ahead, whose devices' rows are not due before then,
  -- an open rule that shields its source from real ones meanwhile. No rule is written from a
  -- session whose clock runs ahead of the server's (NOW() is the session's, and in a stored
  -- program the statement's start; SYSDATE() the server's now: both local time, so the time
  -- zone does not matter). Behind is allowed: a long statement, a replica replaying the binary
  -- log, a restore (a clock set back only makes rules due or expired at once). A server run
  -- with --sysdate-is-now makes SYSDATE() NOW(), and this check nothing.
  IF TIMESTAMPDIFF(SECOND, SYSDATE(), NOW()) > 300 THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ipms: this session runs on a clock of its own (SET timestamp): a rule is written on the server\'s clock only';
  END IF;
  -- an IPv4-mapped address (::ffff:192.0.2.1) is its IPv4 address (see ipms_cidr)
  IF LENGTH(NEW.src_ip) = 16 AND LEFT(NEW.src_ip, 12) = UNHEX('00000000000000000000FFFF') AND IFNULL(NEW.src_prefix, 128) >= 96 THEN
    SET NEW.src_ip = RIGHT(NEW.src_ip, 4), NEW.src_prefix = IFNULL(NEW.src_prefix, 128) - 96;
  END IF;
  IF LENGTH(NEW.dst_ip) = 16 AND LEFT(NEW.dst_ip, 12) = UNHEX('00000000000000000000FFFF') THEN
    SET NEW.dst_ip = RIGHT(NEW.dst_ip, 4);
  END IF;
  IF LENGTH(NEW.src_ip) IN (4, 16) AND IFNULL(NEW.src_prefix, LENGTH(NEW.src_ip) * 8) = LENGTH(NEW.src_ip) * 8 THEN
    -- one address (threshold rules, most blacklist entries): no masking to do
    SET NEW.src_prefix = LENGTH(NEW.src_ip) * 8, NEW.src_last = NEW.src_ip;
  ELSE
    CALL ipms_cidr(CONCAT(INET6_NTOA(NEW.src_ip), '/', IFNULL(NEW.src_prefix, LENGTH(NEW.src_ip) * 8)),
                   v_first, v_last, v_prefix);
    SET NEW.src_ip = v_first, NEW.src_prefix = v_prefix, NEW.src_last = v_last;
  END IF;
  IF NEW.src_prefix < IF(LENGTH(NEW.src_ip) = 4, 8, 16) THEN
    -- 0.0.0.0/0 or 64.0.0.0/2 (a typo, a feed's bogon line) would cut the network off the Internet
    SET v_msg = CONCAT('ipms: refused to block ', INET6_NTOA(NEW.src_ip), '/', NEW.src_prefix,
                       ': wider than /', IF(LENGTH(NEW.src_ip) = 4, 8, 16), ' is not a block ipms makes');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  SET NEW.proto = LOWER(NEW.proto);
  IF NEW.dst_port IS NOT NULL AND (NEW.proto IS NULL OR NEW.proto NOT IN ('tcp', 'udp', 'sctp', 'udplite', 'dccp')) THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ipms: a rule with dst_port needs proto tcp, udp, sctp, udplite or dccp';
  END IF;
  IF NEW.proto IS NOT NULL AND NEW.proto NOT IN ('tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'gre', 'esp', 'ah', 'igmp', 'udplite', 'dccp') THEN
    SET v_msg = CONCAT('ipms: unknown protocol for a rule: ', LEFT(NEW.proto, 16));
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF NEW.dst_ip IS NOT NULL AND LENGTH(NEW.dst_ip) <> LENGTH(NEW.src_ip) THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ipms: source and destination of a rule must be the same address family';
  END IF;
  IF (NEW.proto IN ('icmp', 'igmp', 'ah') AND LENGTH(NEW.src_ip) <> 4) OR (NEW.proto = 'icmpv6' AND LENGTH(NEW.src_ip) <> 16) THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ipms: icmp, igmp and ah are IPv4 only (AH is an IPv6 extension header), icmpv6 is IPv6 only';
  END IF;
  SET NEW.scope = IF(EXISTS (SELECT 1 FROM Network n
                             WHERE n.first_ip <= NEW.src_ip AND n.last_ip >= NEW.src_last
                               AND LENGTH(n.first_ip) = LENGTH(NEW.src_ip)), 'internal', 'external');
  IF NEW.status IN ('pending', 'active', 'disabled') THEN
    CALL ipms_protected(NEW.src_ip, NEW.src_last, v_what);
    IF v_what IS NOT NULL THEN
      SET v_msg = LEFT(CONCAT('ipms: refused to block ', INET6_NTOA(NEW.src_ip), '/', NEW.src_prefix,
                         ': protected by ', v_what), 128);
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
  END IF;
END
