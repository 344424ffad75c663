-- attack: getfenv(0) returns the thread's real global table (the prelude's _G,
-- with the primitives the prelude was built from), even inside a setfenv'd chunk.
-- contained: getfenv is not a global; exit 1.
-- expect: exit=1 error="unknown global 'getfenv'"
local real = getfenv(0)
return real.T and "escaped" or "no"
