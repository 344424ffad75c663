-- attack: the procedure file itself is LuaJIT bytecode (starts with \27LJ);
-- crafted bytecode is the classic LuaJIT sandbox escape.
-- contained: bytecode is refused before anything runs; exit 1 and the payload
-- (which would print BYTECODE-RAN) never runs.
-- setup: bytecode helpers/bc_payload.tac @
-- expect: exit=1 error="bytecode"
-- forbid: BYTECODE-RAN
return "this file is replaced by compiled bytecode"
