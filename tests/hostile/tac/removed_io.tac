-- attack: io.open / io.popen read host files and start programs.
-- contained: io is not a global; exit 1 and the outside directory is untouched.
-- expect: exit=1 error="unknown global 'io'"
local f = io.open(input.outside .. "/pwned", "w")
f:write("escaped")
f:close()
return "written"
