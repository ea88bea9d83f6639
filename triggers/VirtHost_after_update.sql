-- A honeypot address that becomes approved (its range approved, or its address moved inside
-- one) is never blocked: a rule that came first is dropped.
CREATE TRIGGER VirtHost_after_update AFTER UPDATE ON VirtHost FOR EACH ROW
BEGIN
  IF NEW.approved = 1 AND (OLD.approved = 0 OR NOT (NEW.address <=> OLD.address)) THEN
    CALL ipms_drop_covering(NEW.address, NEW.address, CONCAT('honeypot ', INET6_NTOA(NEW.address)));
  END IF;
END
