-- `tactus-run test` and `eval` modes (see cli/cmd_test.c).  Called by the
-- prelude as spec(ctx, chunk, start) when start.mode is not "run"; returns
-- the table sent back in run.finish's result.
local ctx, chunk, start = ...
error({ type = "NotAvailable", message = "mode '" .. tostring(start.mode) .. "' is not available yet" })
