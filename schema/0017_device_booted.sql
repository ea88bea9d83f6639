-- When the device last started, as the worker worked it out from the device's own uptime at
-- its look for lost objects (Cisco IOS: show version). A router reloaded from a configuration
-- saved before ipms's latest changes still has its ACL, so only a later start time tells the
-- worker to send the device's rules again. NULL until the first look (and after devices set
-- moves the device to another box).
ALTER TABLE Device
  ADD COLUMN booted_at DATETIME NULL;
