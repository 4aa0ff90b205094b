-- Number 18 is reserved for issue 20 (hawkBit DDI), built on another branch.
-- This placeholder keeps the versions without a gap on the console's branch
-- (tools/embed-migrations.sh requires 1, 2, 3 ...); the merge replaces it
-- with that branch's 0018 file. It changes nothing.
SELECT 1;
