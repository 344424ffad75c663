-- attack: reach string.dump through the shared string metatable
-- (("").dump), bypassing the per-run copy of the string table.
-- contained: dump is gone from the real string table as well; exit 1.
-- expect: exit=1 error="method 'dump'|field 'dump'|nil value"
local bc = (""):dump()
return #bc
