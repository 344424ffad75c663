-- attack: C -> Lua -> C recursion through string.gsub callbacks grows the C
-- stack past its guard page.
-- contained: reported as a C stack overflow; exit 1.
-- expect: exit=1 error="C stack overflow"
-- sanitized: skip ASan's own SIGSEGV handling takes over a C stack overflow
local function f() return (string.gsub("x", "x", f)) end
return f()
