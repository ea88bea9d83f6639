-- `approved` is derived again on every update (see VirtHost_before_insert): the SensorNet
-- triggers write the honeypots of a range they approve or revoke again, and this decides.
CREATE TRIGGER VirtHost_before_update BEFORE UPDATE ON VirtHost FOR EACH ROW
BEGIN
  CALL ipms_honeypot_approved(NEW.sensor_id, NEW.address, NEW.approved);
END
