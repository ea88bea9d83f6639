-- An approved honeypot address is never blocked (that would blind the sensor): a rule that came
-- first is dropped. A honeypot outside its sensor's approved ranges protects nothing.
CREATE TRIGGER VirtHost_after_insert AFTER INSERT ON VirtHost FOR EACH ROW
BEGIN
  IF NEW.approved = 1 THEN
    CALL ipms_drop_covering(NEW.address, NEW.address, CONCAT('honeypot ', INET6_NTOA(NEW.address)));
  END IF;
END
