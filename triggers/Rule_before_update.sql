-- Keeps derived columns right when a DBA edits a rule, and refuses to re-open a rule whose
-- source has become protected since.
CREATE TRIGGER Rule_before_update BEFORE UPDATE ON Rule FOR EACH ROW
BEGIN
  DECLARE v_first VARBINARY(16);
  DECLARE v_last VARBINARY(16);
  DECLARE v_prefix INT;
  DECLARE v_what VARCHAR(200);
  DECLARE v_msg VARCHAR(255);
  SET NEW.updated_at = UTC_TIMESTAMP(3);
  IF NOT (NEW.src_ip <=> OLD.src_ip) OR NOT (NEW.src_prefix <=> OLD.src_prefix) THEN
    CALL ipms_cidr(CONCAT(INET6_NTOA(NEW.src_ip), '/', IFNULL(NEW.src_prefix, LENGTH(NEW.src_ip) * 8)),
                   v_first, v_last, v_prefix);
    SET NEW.src_ip = v_first, NEW.src_prefix = v_prefix, NEW.src_last = v_last;
  END IF;
  IF NEW.status IN ('pending', 'active', 'disabled')
     AND (OLD.status NOT IN ('pending', 'active', 'disabled') OR NOT (NEW.src_ip <=> OLD.src_ip)
          OR NOT (NEW.src_prefix <=> OLD.src_prefix)) THEN
    CALL ipms_protected(NEW.src_ip, NEW.src_last, v_what);
    IF v_what IS NOT NULL THEN
      SET v_msg = CONCAT('ipms: refused to block ', INET6_NTOA(NEW.src_ip), '/', NEW.src_prefix,
                         ': protected by ', v_what);
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
  END IF;
END
