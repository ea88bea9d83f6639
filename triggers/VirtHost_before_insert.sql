-- A honeypot protects its address only inside a range an admin approved for its sensor
-- (SensorNet): `approved` is derived here, whatever the writer (a sensor's account) put in it.
CREATE TRIGGER VirtHost_before_insert BEFORE INSERT ON VirtHost FOR EACH ROW
BEGIN
  -- an IPv4-mapped address (::ffff:a.b.c.d) is its IPv4 address: as the ingest
  -- writes it (the approval and the protected-address checks compare bytes of one length)
  IF LENGTH(NEW.address) = 16 AND LEFT(NEW.address, 12) = UNHEX('00000000000000000000FFFF') THEN
    SET NEW.address = RIGHT(NEW.address, 4);
  END IF;
  CALL ipms_honeypot_approved(NEW.sensor_id, NEW.address, NEW.approved);
END
