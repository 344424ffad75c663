-- Checkpoints and replay: Step.checkpoint(fn) / checkpoint(fn) run fn once
-- and record its result by position.  With --storage file the record is
-- kept on disk ($XDG_STATE_HOME/tactus-run/storage/, signed; or in
-- --storage-path DIR): a
-- run that fails is re-run from the start, and the checkpoints it had
-- already passed return their recorded results instead of running again.
-- A run that completes clears its record.
--
--   tactus-run run examples/checkpoint.tac --storage file --param crash=true   # step 1, then fails (exit 1)
--   tactus-run run examples/checkpoint.tac --storage file                      # replays step 1, runs step 2
--
-- Step 1 records the value of the crash flag it ran with, so the second
-- run's result shows it came from the first run: replayed = true.
Procedure {
  input = { crash = field.boolean { default = false, description = "fail after step 1" } },
  function(input)
    local step1 = Step.checkpoint(function()
      Log.info("step 1: running (not replayed)")
      return { ran_with_crash = input.crash, value = 20 }
    end)
    if input.crash then
      error("crashing on purpose after step 1; run again without --param crash=true")
    end
    local step2 = checkpoint(function()
      Log.info("step 2: running")
      return step1.value + 22
    end)
    return { answer = step2, replayed = step1.ran_with_crash ~= input.crash }
  end,
}

-- `tactus-run test examples/checkpoint.tac`: every scenario has its own
-- scratch storage, so nothing is replayed from an earlier run.
Specification([[
Feature: Checkpoints
  Scenario: both steps run
    When the procedure runs
    Then the output answer should be 42
    And the output replayed should be false

  Scenario: the crash flag fails the run after step 1
    Given the input crash is true
    When the procedure runs
    Then the procedure should fail with "crashing on purpose"
    And the log should contain "step 1: running"
]])
