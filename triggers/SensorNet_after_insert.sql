-- An approved range: whitelisted, and the sensor's honeypots in it approved (see ipms_honeypot_range).
CREATE TRIGGER SensorNet_after_insert AFTER INSERT ON SensorNet FOR EACH ROW
BEGIN
  CALL ipms_honeypot_range(1, NEW.sensor_id, NEW.cidr, NEW.first_ip, NEW.last_ip);
END
