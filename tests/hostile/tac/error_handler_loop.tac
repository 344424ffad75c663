-- attack: an xpcall message handler that itself errors (and recurses), to
-- confuse error handling in the VM.
-- contained: LuaJIT reports an error in error handling; the script goes on
-- and fails normally with its own error; exit 1.
-- expect: exit=1 error="HANDLER-DONE"
local function h(e) error(e) end
local ok, e = xpcall(function() error("boom") end, h)
assert(not ok)
local function h2(e) return xpcall(function() error(e) end, h2) end
xpcall(function() error("boom") end, h2)
error("HANDLER-DONE")
