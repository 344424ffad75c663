-- attack: require a native C module (package.cpath: socket.core, lfs) to get
-- network or filesystem access from a .so.
-- contained: no C module is ever loaded; only NAME.tac sources are; exit 1.
-- expect: exit=1 error="NotFound.*socket"
local socket = require("socket.core")
return type(socket.tcp)
