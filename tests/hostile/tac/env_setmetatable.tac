-- attack: setmetatable(_G, {__index = ...}) replaces the environment's
-- metatable (the unknown-global check and the DSL's assignment hook).
-- contained: the environment's metatable is protected; exit 1.
-- expect: exit=1 error="cannot change a protected metatable"
setmetatable(_G, { __index = function(_, k) return k end })
return "replaced"
