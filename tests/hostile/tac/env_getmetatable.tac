-- attack: getmetatable(_G) to reach the environment's __index closure and the
-- per-run global table behind it.
-- contained: getmetatable(_G) is false, indexing it fails; exit 1.
-- expect: exit=1 error="a boolean value"
local mt = getmetatable(_G)
return type(mt.__index)
