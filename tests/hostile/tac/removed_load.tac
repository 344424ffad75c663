-- attack: load() compiles arbitrary chunks (and, with mode "b", bytecode).
-- contained: load is not a global at all; reading it fails, exit 1.
-- expect: exit=1 error="unknown global 'load'"
local f = load("return 'loaded'")
return f()
