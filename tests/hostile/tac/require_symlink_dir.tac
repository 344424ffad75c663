-- attack: a symlinked directory beside the procedure (lnk -> a host directory)
-- makes the broker read lnk/secret.tac from outside the procedure's directory
-- (O_NOFOLLOW alone only guards the last path component).
-- contained: the broker opens every component without following symlinks; exit 1,
-- the secret module never runs.
-- setup: symlink lnk $OUTSIDE
-- expect: exit=1 error="NotFound.*symlink"
-- forbid: SECRET-
-- modes: sandbox no-sandbox
return require("lnk/secret")
