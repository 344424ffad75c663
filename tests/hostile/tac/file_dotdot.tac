-- attack: File.read("../...") walks out of the workspace.
-- contained: '..' components are refused (vm/lua/paths.lua, and in the
-- sandbox nothing but /workspace exists); exit 1, the secret is not read.
-- expect: exit=1 error="'\.\.' is not allowed: paths stay inside"
-- forbid: secret [0-9]
-- modes: sandbox no-sandbox
return File.read("../outside/secret.txt")
