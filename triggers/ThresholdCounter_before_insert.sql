-- A threshold of max_hits = 1 fires on the first hit of a window. BEFORE INSERT also fires for
-- an upsert that turns out to be an update, so make sure the window's row is really new.
CREATE TRIGGER ThresholdCounter_before_insert BEFORE INSERT ON ThresholdCounter FOR EACH ROW
BEGIN
  IF NEW.fired = 0 AND NEW.hits >= NEW.max_hits
     AND NOT EXISTS (SELECT 1 FROM ThresholdCounter c
                     WHERE c.threshold_id = NEW.threshold_id AND c.src_ip = NEW.src_ip
                       AND c.window_no = NEW.window_no AND c.dst_ip = NEW.dst_ip
                       AND c.dst_port = NEW.dst_port AND c.src_port = NEW.src_port AND c.proto = NEW.proto) THEN
    SET NEW.fired = 1;
    CALL ipms_threshold_crossed(NEW.threshold_id, NEW.src_ip, NEW.dst_ip, NEW.dst_port, NEW.proto,
                                NEW.hits, NEW.sensor_id);
  END IF;
END
