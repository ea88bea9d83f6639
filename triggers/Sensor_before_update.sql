-- A renamed sensor's new name is checked (see ipms_sensor_name), and a new management address
-- kept in one form.
CREATE TRIGGER Sensor_before_update BEFORE UPDATE ON Sensor FOR EACH ROW
BEGIN
  -- an IPv4-mapped address (::ffff:a.b.c.d) is its IPv4 address: the protected-address
  -- checks compare bytes of one length, and the mapped form slipped past all of them
  IF LENGTH(NEW.address) = 16 AND LEFT(NEW.address, 12) = UNHEX('00000000000000000000FFFF') THEN
    SET NEW.address = RIGHT(NEW.address, 4);
  END IF;
  IF NOT (NEW.name <=> OLD.name) THEN
    CALL ipms_sensor_name(NEW.name);
  END IF;
END
