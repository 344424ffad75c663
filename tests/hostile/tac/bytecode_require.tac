-- attack: a local module (evilbc.tac) that is compiled bytecode, loaded with
-- require through the broker.
-- contained: T.load refuses bytecode (and loads text only); exit 1, no payload.
-- setup: bytecode helpers/bc_payload.tac evilbc.tac
-- expect: exit=1 error="Bytecode|bytecode"
-- forbid: BYTECODE-RAN
return require("evilbc")
