-- The open rules over a range whose networks changed take the scope the Network table gives
-- them now (internal: inside a network; else external), and with it the devices that take
-- that scope (Rule_before_update). Network changes are rare admin acts: the open rules are read
-- through their status index.
CREATE PROCEDURE ipms_rescope(IN p_first VARBINARY(16), IN p_last VARBINARY(16))
BEGIN
  IF p_first IS NOT NULL AND p_last IS NOT NULL THEN
    UPDATE Rule r
    SET r.scope = IF(EXISTS (SELECT 1 FROM Network n
                             WHERE n.first_ip <= r.src_ip AND n.last_ip >= r.src_last
                               AND LENGTH(n.first_ip) = LENGTH(r.src_ip)), 'internal', 'external')
    WHERE r.status IN ('pending', 'active', 'disabled')
      AND r.src_ip <= p_last AND r.src_last >= p_first AND LENGTH(r.src_ip) = LENGTH(p_first);
  END IF;
END
