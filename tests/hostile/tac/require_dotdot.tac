-- attack: require("../x") loads a .tac from outside the procedure's directory.
-- contained: refused in the VM ('..' is not allowed) and again by the broker; exit 1.
-- expect: exit=1 error="only modules beside the procedure"
return require("../outside/secret")
