-- attack: File.read("../...") walks out of the workspace.
-- contained: '..' components are refused (and in the sandbox nothing but
-- /workspace exists); exit 1, the secret is not read.
-- expect: exit=1 error="'\.\.' and empty path components are not allowed"
-- forbid: secret [0-9]
-- modes: sandbox no-sandbox
return File.read("../outside/secret.txt")
