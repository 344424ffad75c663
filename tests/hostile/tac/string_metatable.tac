-- attack: getmetatable("").__index = evil hijacks every string method call in
-- the whole Lua state, the prelude's included (("x"):format(...)).
-- contained: getmetatable("") returns false (the string metatable is locked); exit 1.
-- expect: exit=1 error="a boolean value"
getmetatable("").__index = function(s, k) return function() return "hijacked" end end
return ("x"):upper()
