-- The prefix lengths 0..128, one row each. "Which open rules cover this address?" is asked of
-- every threshold crossing and every newly protected address. A rule covers an address when its
-- start is that address cut to the rule's own prefix length, so the answer is one index look-up
-- per possible length (8..32 for IPv4, 16..128 for IPv6: a join with this table), however many
-- rules there are. A range scan of the rules that start at or below the address reads every
-- rule of its /8 (or the whole table), and a blacklist can hold 100k of them.
CREATE TABLE PrefixLength (
  n TINYINT UNSIGNED NOT NULL PRIMARY KEY
) ENGINE=InnoDB;

INSERT INTO PrefixLength (n) VALUES
  (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15),
  (16), (17), (18), (19), (20), (21), (22), (23), (24), (25), (26), (27), (28), (29), (30), (31),
  (32), (33), (34), (35), (36), (37), (38), (39), (40), (41), (42), (43), (44), (45), (46), (47),
  (48), (49), (50), (51), (52), (53), (54), (55), (56), (57), (58), (59), (60), (61), (62), (63),
  (64), (65), (66), (67), (68), (69), (70), (71), (72), (73), (74), (75), (76), (77), (78), (79),
  (80), (81), (82), (83), (84), (85), (86), (87), (88), (89), (90), (91), (92), (93), (94), (95),
  (96), (97), (98), (99), (100), (101), (102), (103), (104), (105), (106), (107), (108), (109), (110), (111),
  (112), (113), (114), (115), (116), (117), (118), (119), (120), (121), (122), (123), (124), (125), (126), (127),
  (128);
