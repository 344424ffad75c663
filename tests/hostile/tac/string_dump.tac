-- attack: string.dump turns a function into bytecode that could be edited and
-- reloaded (LuaJIT has no bytecode verifier: arbitrary memory read/write).
-- contained: string.dump is removed (from the real string table too); exit 1.
-- expect: exit=1 error="field 'dump'"
local bc = string.dump(function() return 1 end)
return #bc
