-- attack: write through a symlinked directory component (lnk -> a host
-- directory) to create a file outside the workspace.
-- contained: refused; exit 1, no file appears outside.
-- setup: symlink lnk $OUTSIDE
-- expect: exit=1 error="a directory in the path is a symlink"
-- marker: $OUTSIDE/pwned
-- modes: sandbox no-sandbox
File.write("lnk/pwned", "escaped")
return "written"
