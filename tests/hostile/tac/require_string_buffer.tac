-- attack: require("string.buffer"), the LuaJIT 2.1 serializer preloaded in
-- Debian's build (a decoder of untrusted data with a history of bugs).
-- contained: not available; exit 1.
-- expect: exit=1 error="NotFound"
local buf = require("string.buffer")
return type(buf.decode)
