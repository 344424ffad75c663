-- `tactus-run test` and `eval` (cli/cmd_test.c).  Called by the prelude as
-- spec(ctx, chunk, start) when start.mode is not "run"; what it returns is
-- run.finish's result.  Everything here runs inside the sandbox: the
-- Gherkin text and the custom steps come from the untrusted .tac file.
--
--   mode "list"      parse every Specification; return the scenarios
--   mode "scenario"  run the scenario start.scenario (this VM runs only it)
--   mode "eval"      run every Evaluation's dataset through the procedure
--
-- The session S carries one run's state between the modules:
--   scenario.lua   the world of a scenario, running the procedure, list/scenario
--   steps.lua      the step registry, Given and When steps
--   checks.lua     the Then steps
--   stepmatch.lua  matching a step's text, running it, suggestions
--   evaluate.lua   Evaluations
-- Pure helpers come from ctx.lib: value (step values, comparisons),
-- literal (Python literals), similarity, regex, gherkin, luascan.
-- The step vocabulary, the value syntax and the pattern dialect are listed
-- in docs/testing.md.
local ctx, chunk, start = ...
local T = ctx.T

local S = { ctx = ctx, chunk = chunk, start = start, T = T, G = ctx.G, lib = ctx.lib }
for _, name in ipairs({ "scenario", "steps", "checks", "stepmatch", "evaluate" }) do
  T.builtin(name)(S)
end

S.install_hooks()
local result
if start.mode == "list" then
  result = S.mode_list()
elseif start.mode == "scenario" then
  result = S.mode_scenario()
elseif start.mode == "eval" then
  result = S.mode_eval()
else
  error({ type = "BadRequest", message = "unknown mode '" .. tostring(start.mode) .. "'" }, 0)
end
-- The run's own state is not part of a test report (and may hold values
-- JSON cannot carry).
ctx.state = {}
return result
