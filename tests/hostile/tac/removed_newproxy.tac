-- attack: newproxy(true) makes a userdata whose __gc finalizer runs at
-- arbitrary points (allocations, lua_close), even after the run ended.
-- contained: newproxy is not a global; exit 1.
-- expect: exit=1 error="unknown global 'newproxy'"
local p = newproxy(true)
getmetatable(p).__gc = function() while true do end end
return "proxy"
