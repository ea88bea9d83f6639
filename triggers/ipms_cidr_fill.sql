-- The columns of a CIDR entry (Whitelist, Blacklist, Network) from its text: first_ip, last_ip
-- and prefix, and the canonical text. A writer that gives a single address's text and bytes
-- consistently (the CLI does) skips the parse; anything else is parsed and canonicalised, so a
-- DBA can write INSERT INTO Whitelist (cidr) VALUES ('198.51.100.0/24') and nothing more.
-- Called by the BEFORE INSERT/UPDATE triggers of those tables with NEW.* as INOUT arguments.
CREATE PROCEDURE ipms_cidr_fill(INOUT p_cidr VARCHAR(64), INOUT p_first VARBINARY(16), INOUT p_last VARBINARY(16), INOUT p_prefix INT)
BEGIN
  DECLARE v_prefix INT;
  IF p_first IS NOT NULL AND LENGTH(p_first) IN (4, 16) AND p_prefix = LENGTH(p_first) * 8
     AND p_cidr = CONCAT(INET6_NTOA(p_first), '/', p_prefix)
     AND NOT (LENGTH(p_first) = 16 AND LEFT(p_first, 12) = UNHEX('00000000000000000000FFFF')) THEN
    SET p_last = p_first;
  ELSE
    CALL ipms_cidr(p_cidr, p_first, p_last, v_prefix);
    SET p_prefix = v_prefix, p_cidr = CONCAT(INET6_NTOA(p_first), '/', v_prefix);
  END IF;
END
