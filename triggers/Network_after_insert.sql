-- A new inside network: feed entries over it go, and their rules with them (feeds never
-- block inside ranges: an import refuses such an entry, Blacklist_after_delete drops its
-- rule); then the open rules in it become internal (see ipms_rescope).
CREATE TRIGGER Network_after_insert AFTER INSERT ON Network FOR EACH ROW
BEGIN
  DELETE FROM Blacklist
  WHERE LENGTH(first_ip) = LENGTH(NEW.first_ip) AND first_ip <= NEW.last_ip AND last_ip >= NEW.first_ip;
  CALL ipms_rescope(NEW.first_ip, NEW.last_ip);
END
