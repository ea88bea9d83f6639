-- The ranges no packet comes from, so no block is ever made for them: "this network" 0.0.0.0/8
-- (every DHCP request comes from 0.0.0.0), loopback, multicast, the reserved 240/4 and the
-- limited broadcast, and in IPv6 the unspecified address, loopback and multicast. A sensor
-- overhears spoofed packets "from" them (honeyd reads the wire), and a rule for one would cut a
-- firewall's own loopback traffic or every DHCP client. p_what names the range p_first..p_last
-- overlaps, or is NULL. (A blacklist entry is refused for them too: ipms_blacklist_fill.)
CREATE PROCEDURE ipms_no_source(IN p_first VARBINARY(16), IN p_last VARBINARY(16), OUT p_what VARCHAR(100))
BEGIN
  SET p_what = CASE
    WHEN LENGTH(p_first) = 4 AND p_first <= UNHEX('00FFFFFF') THEN 'this network 0.0.0.0/8 (DHCP clients)'
    WHEN LENGTH(p_first) = 4 AND p_first <= UNHEX('7FFFFFFF') AND p_last >= UNHEX('7F000000') THEN 'loopback 127.0.0.0/8'
    WHEN LENGTH(p_first) = 4 AND p_first = UNHEX('FFFFFFFF') THEN 'the limited broadcast 255.255.255.255'
    WHEN LENGTH(p_first) = 4 AND p_last >= UNHEX('E0000000') THEN 'multicast and reserved 224.0.0.0/3'
    WHEN LENGTH(p_first) = 16 AND p_first = UNHEX('00000000000000000000000000000000') THEN 'the unspecified address ::'
    WHEN LENGTH(p_first) = 16 AND p_first <= UNHEX('00000000000000000000000000000001') THEN 'loopback ::1'
    WHEN LENGTH(p_first) = 16 AND p_last >= UNHEX('FF000000000000000000000000000000') THEN 'multicast ff00::/8'
  END;
END
