-- A network no longer inside: the open rules in it become external (unless another network
-- holds them; see ipms_rescope).
CREATE TRIGGER Network_after_delete AFTER DELETE ON Network FOR EACH ROW
BEGIN
  CALL ipms_rescope(OLD.first_ip, OLD.last_ip);
END
