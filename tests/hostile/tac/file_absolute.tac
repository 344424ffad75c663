-- attack: File.read with an absolute host path.
-- contained: absolute paths are refused; exit 1, the secret is not read.
-- expect: exit=1 error="absolute paths are not allowed"
-- forbid: secret [0-9]
-- modes: sandbox no-sandbox
return File.read(input.outside .. "/secret.txt")
