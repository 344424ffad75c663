-- tests/spec/nospec.tac: no Specification: `tactus-run test` exits 1.
Procedure { function() return { ok = true } end }
