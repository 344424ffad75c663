-- attack: unpack with a huge range (Redis CVE-2025-46817 was an integer
-- overflow in Lua 5.1's unpack).
-- contained: "too many results to unpack", exit 1.
-- expect: exit=1 error="too many results to unpack"
local n = select("#", unpack({}, -2147483648, 2147483647))
return n
