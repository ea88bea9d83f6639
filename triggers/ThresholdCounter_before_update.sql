-- Fires inside the counter upsert, with the row locked: NEW.hits is the true count.
CREATE TRIGGER ThresholdCounter_before_update BEFORE UPDATE ON ThresholdCounter FOR EACH ROW
BEGIN
  IF NEW.fired = 0 AND NEW.hits >= NEW.max_hits THEN
    SET NEW.fired = 1;
    CALL ipms_threshold_crossed(NEW.threshold_id, NEW.src_ip, NEW.dst_ip, NEW.dst_port, NEW.proto,
                                NEW.hits, NEW.sensor_id);
  END IF;
END
