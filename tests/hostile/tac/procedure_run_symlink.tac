-- attack: Procedure.run("lnk/secret.tac") with lnk -> a host directory runs a
-- sub-procedure from outside the procedure's directory.
-- contained: module.load refuses symlinked components; exit 1, no secret.
-- setup: symlink lnk $OUTSIDE
-- expect: exit=1 error="NotFound.*symlink"
-- forbid: SECRET-
-- modes: sandbox no-sandbox
return Procedure.run("lnk/secret.tac")
