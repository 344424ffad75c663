-- attack: unbounded Lua recursion to overflow the stack.
-- contained: LuaJIT's Lua stack limit raises "stack overflow"; exit 1.
-- expect: exit=1 error="stack overflow"
local function f(n) return 1 + f(n + 1) end
return f(1)
