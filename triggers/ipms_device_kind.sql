-- A device's adapter and transport are ones the worker has (worker/devices/index.ts,
-- worker/target.ts): an unknown adapter also decides which rules the device takes (a
-- source-only one takes no port rule), and every row of a device the worker cannot drive fails.
CREATE PROCEDURE ipms_device_kind(IN p_adapter VARCHAR(32), IN p_transport VARCHAR(16))
BEGIN
  IF p_adapter IS NULL OR p_adapter NOT IN ('nftables', 'iptables', 'ipset', 'cisco-ios', 'pf', 'routeros') THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ipms: Device.adapter is one of nftables, iptables, ipset, cisco-ios, pf, routeros';
  END IF;
  IF p_transport IS NULL OR p_transport NOT IN ('ssh', 'local', 'dry-run') THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ipms: Device.transport is one of ssh, local, dry-run';
  END IF;
END
