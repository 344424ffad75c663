-- attack: loadstring() compiles arbitrary text or bytecode into a function.
-- contained: loadstring is not a global; exit 1.
-- expect: exit=1 error="unknown global 'loadstring'"
local f = loadstring("return 'loaded'")
return f()
