-- attack: Procedure.run("../outside/secret.tac") runs a sub-procedure from a
-- parent directory.
-- contained: the broker refuses names with '..'; exit 1, no secret.
-- expect: exit=1 error="NotFound"
-- forbid: SECRET-
-- modes: sandbox no-sandbox
return Procedure.run("../outside/secret.tac")
