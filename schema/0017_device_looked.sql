-- When the worker last read the device's uptime, at its look for lost objects (Cisco IOS:
-- show version). A router reloaded from a configuration saved before ipms's latest changes
-- still has its ACL: only an uptime shorter than the time since the last look tells the
-- worker that it restarted, and that its rules must be sent again. NULL until the first look
-- (and after devices set moves the device to another box).
ALTER TABLE Device
  ADD COLUMN looked_at DATETIME NULL;
