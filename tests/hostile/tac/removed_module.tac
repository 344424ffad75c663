-- attack: module() writes into the global table and reaches package.seeall.
-- contained: module is not a global; exit 1.
-- expect: exit=1 error="unknown global 'module'"
module("evil", package.seeall)
return "module"
