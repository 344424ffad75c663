-- attack: an infinite Lua loop (JIT-compiled: traces never check hooks).
-- contained: the broker's wall-clock deadline kills the cage; exit 124.
-- args: --timeout 2
-- expect: exit=124 error="deadline"
-- within: 8
local n = 0
while true do n = n + 1 end
