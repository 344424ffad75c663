-- attack: setmetatable("", {...}) replaces the shared string metatable.
-- contained: setmetatable works on tables only; exit 1.
-- expect: exit=1 error="bad argument #1"
setmetatable("", { __index = function() return "hijacked" end })
return ("x"):upper()
