-- attack: debug.getregistry / getupvalue / sethook reach the registry, the
-- prelude's upvalues (the primitives table) and remove the stop hook.
-- contained: debug is not a global; exit 1.
-- expect: exit=1 error="unknown global 'debug'"
local reg = debug.getregistry()
return type(reg)
