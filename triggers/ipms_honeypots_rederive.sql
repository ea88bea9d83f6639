-- The honeypots of a sensor inside a range whose approval changed: each is written again, and
-- VirtHost_before_update derives `approved` from the ranges there are now (VirtHost_after_update
-- then drops the rules over those that became approved).
CREATE PROCEDURE ipms_honeypots_rederive(IN p_sensor INT UNSIGNED, IN p_first VARBINARY(16), IN p_last VARBINARY(16))
BEGIN
  UPDATE VirtHost SET approved = approved
  WHERE sensor_id = p_sensor AND address BETWEEN p_first AND p_last AND LENGTH(address) = LENGTH(p_first);
END
