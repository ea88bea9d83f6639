-- A device's new host is stored as every part of ipms reads it (see ipms_device_host); its
-- adapter and transport are ones the worker has (see ipms_device_kind); `ipv6` follows the
-- options (see Device_before_insert).
CREATE TRIGGER Device_before_update BEFORE UPDATE ON Device FOR EACH ROW
BEGIN
  IF NOT (NEW.host <=> OLD.host) THEN
    CALL ipms_device_host(NEW.host);
  END IF;
  IF NOT (NEW.adapter <=> OLD.adapter) OR NOT (NEW.transport <=> OLD.transport) THEN
    CALL ipms_device_kind(NEW.adapter, NEW.transport);
    -- the adapter decides where a device keeps its entries, and which rules it takes: another
    -- one would leave what the old one put there unseen (the CLI has no such change either)
    IF NOT (NEW.adapter <=> OLD.adapter) AND EXISTS (SELECT 1 FROM RuleDevice x WHERE x.device_id = OLD.id AND x.state <> 'removed') THEN
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ipms: a device''s adapter cannot change while it has rules (or may have): add a device of the new kind';
    END IF;
  END IF;
  SET NEW.ipv6 = IF(IF(JSON_VALID(NEW.options), JSON_UNQUOTE(JSON_EXTRACT(NEW.options, '$.ipv6')), NULL) <=> 'false', 0, 1);
END
