-- A device's host is stored as every part of ipms reads it (see ipms_device_host), and its
-- adapter and transport are ones the worker has (see ipms_device_kind). `ipv6` is the adapter
-- option of that name as the rule triggers read it (see schema 0023): false, no IPv6 rules.
CREATE TRIGGER Device_before_insert BEFORE INSERT ON Device FOR EACH ROW
BEGIN
  CALL ipms_device_host(NEW.host);
  CALL ipms_device_kind(NEW.adapter, NEW.transport);
  SET NEW.ipv6 = IF(IF(JSON_VALID(NEW.options), JSON_UNQUOTE(JSON_EXTRACT(NEW.options, '$.ipv6')), NULL) <=> 'false', 0, 1);
END
