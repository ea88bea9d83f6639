-- A rule's action decides where a device keeps its entry (nftables drop4 or reject4, the ipset,
-- pf table or RouterOS list of each action). A rule whose action changed was put on its
-- devices again under the new action only, and the entry under the old one stayed: the
-- source stayed dropped (the drop sets come first) even once the rule was dropped or the
-- source whitelisted. Rule_before_update now notes here the action of an entry the device
-- may still hold; the worker takes that entry off with the row's next batch, then clears it.
-- (Rules whose action changed before this version: `ipms devices reconcile NAME` finds
-- and removes such entries.)
ALTER TABLE RuleDevice
  ADD COLUMN old_action ENUM('DROP','REJECT') NULL;
