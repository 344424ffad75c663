-- attack: loadfile() reads and compiles any file the process can open.
-- contained: loadfile is not a global; exit 1.
-- expect: exit=1 error="unknown global 'loadfile'"
local f = loadfile("/etc/passwd")
return f and "read" or "no"
