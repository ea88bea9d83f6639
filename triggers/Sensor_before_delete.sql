-- A removed sensor's approved honeypot ranges go with it, and with them their whitelist
-- entries (SensorNet_after_delete), unless another sensor's approval holds the same range.
-- The foreign key's ON DELETE CASCADE would delete the SensorNet rows without firing their
-- triggers, and leave the entries behind, with nothing left to revoke them by.
CREATE TRIGGER Sensor_before_delete BEFORE DELETE ON Sensor FOR EACH ROW
BEGIN
  DELETE FROM SensorNet WHERE sensor_id = OLD.id;
END
