-- attack: overwrite the DSL and library globals (Tool = nil, Log = fake,
-- string.format = nil, Json = 1) hoping the change leaks into other code:
-- a sub-procedure, the runtime, or later runs.
-- contained: the change affects only this run's environment; a sub-procedure
-- started afterwards sees the real Log/Tool/string/Json (it prints
-- INTACT-SUB) and the run completes; exit 0.
-- setup: helper overwrite_check.tac
-- expect: exit=0 error="INTACT-SUB"
Tool = nil
Log = { info = function() error("fake Log called") end }
string.format = nil
Json = 1
assert(Log.info ~= nil and string.format == nil and Json == 1, "the overwrite did not apply here")
return Procedure.run("overwrite_check.tac")
