-- attack: bytecode behind a "#!" line, which defeats a naive "first byte is
-- ESC" check (LuaJIT#188).
-- contained: LuaJIT refuses bytecode after a header line; exit 1, no payload.
-- setup: bytecode-shebang helpers/bc_payload.tac @
-- expect: exit=1 error="bytecode"
-- forbid: BYTECODE-RAN
return "this file is replaced by compiled bytecode"
