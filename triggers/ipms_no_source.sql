-- The range of NoSourceRange (loopback, multicast, 0.0.0.0/8...: no packet comes from them, see
-- schema 0014) that p_first..p_last overlaps, the most specific first, as 'description cidr';
-- or NULL. No rule is made for such a range, whoever asks.
CREATE PROCEDURE ipms_no_source(IN p_first VARBINARY(16), IN p_last VARBINARY(16), OUT p_what VARCHAR(100))
BEGIN
  SET p_what = (SELECT CONCAT(n.description, ' ', n.cidr) FROM NoSourceRange n
                WHERE n.first_ip <= p_last AND n.last_ip >= p_first AND LENGTH(n.first_ip) = LENGTH(p_first)
                ORDER BY n.prefix DESC LIMIT 1);
END
