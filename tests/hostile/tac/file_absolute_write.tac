-- attack: File.write to an absolute host path creates a file outside.
-- contained: refused; exit 1, no marker outside.
-- expect: exit=1 error="absolute paths are not allowed"
-- marker: $OUTSIDE/pwned
-- modes: sandbox no-sandbox
File.write(input.outside .. "/pwned", "escaped")
return "written"
