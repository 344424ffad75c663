-- attack: setfenv(n, t) replaces the environment of a function on the call
-- stack (the prelude's own frames), poisoning what they look up.
-- contained: setfenv is not a global; exit 1.
-- expect: exit=1 error="unknown global 'setfenv'"
setfenv(2, { error = function() end })
return "poisoned"
