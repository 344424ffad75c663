-- attack: package.loadlib loads a native shared object; package.preload
-- hands out ffi and string.buffer.
-- contained: package is not a global; exit 1.
-- expect: exit=1 error="unknown global 'package'"
local f = package.loadlib("libc.so.6", "system")
return f and f("id") or "no"
