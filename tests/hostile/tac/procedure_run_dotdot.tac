-- attack: Procedure.run("../outside/secret.tac") runs a sub-procedure from a
-- parent directory.
-- contained: the path rule refuses '..' (vm/lua/paths.lua) before anything
-- is read, and the broker refuses such module names too; exit 1, no secret.
-- expect: exit=1 error="'\.\.' is not allowed: paths stay inside"
-- forbid: SECRET-
-- modes: sandbox no-sandbox
return Procedure.run("../outside/secret.tac")
