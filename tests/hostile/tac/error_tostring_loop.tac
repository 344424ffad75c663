-- attack: raise an error object whose __tostring (and __index) loop forever,
-- so that whoever formats the error for the report hangs.
-- contained: the runtime reads and renders error objects without
-- metamethods; the run fails at once with "error object { }", exit 1.
-- args: --timeout 20
-- expect: exit=1 error="RuntimeError: error object"
-- within: 10
local evil = setmetatable({}, {
  __tostring = function() while true do end end,
  __index = function() while true do end end,
})
error(evil)
