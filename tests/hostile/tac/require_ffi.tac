-- attack: require("ffi") — in stock LuaJIT, ffi is a preloaded module.
-- contained: require only loads the tactus.* standard modules and .tac files
-- beside the procedure (through the broker); there is no ffi.tac; exit 1.
-- expect: exit=1 error="NotFound.*ffi"
local ffi = require("ffi")
return type(ffi.C)
