-- attack: File.list through a symlinked directory to enumerate a host directory.
-- contained: refused; exit 1, no listing of the outside directory.
-- setup: symlink lnk $OUTSIDE
-- expect: exit=1 error="symlink|Not a directory"
-- forbid: victim\.txt
-- modes: sandbox no-sandbox
return table.concat(File.list("lnk"), ",")
