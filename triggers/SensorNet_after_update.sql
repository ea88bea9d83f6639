-- A range edited in place: a revoke of the old range, then an approval of the new one.
CREATE TRIGGER SensorNet_after_update AFTER UPDATE ON SensorNet FOR EACH ROW
BEGIN
  IF NOT (NEW.cidr <=> OLD.cidr) OR NOT (NEW.sensor_id <=> OLD.sensor_id) THEN
    CALL ipms_honeypot_range(0, OLD.sensor_id, OLD.cidr, OLD.first_ip, OLD.last_ip);
    CALL ipms_honeypot_range(1, NEW.sensor_id, NEW.cidr, NEW.first_ip, NEW.last_ip);
  END IF;
END
