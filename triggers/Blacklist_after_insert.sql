-- A blacklist entry becomes a rule (see ipms_blacklist_rule).
CREATE TRIGGER Blacklist_after_insert AFTER INSERT ON Blacklist FOR EACH ROW
BEGIN
  CALL ipms_blacklist_rule(NEW.id, NEW.first_ip, NEW.prefix, NEW.action, NEW.source, NEW.comment, NEW.expires_at);
END
