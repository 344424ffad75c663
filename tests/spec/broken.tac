-- tests/spec/broken.tac: scenarios that are meant to FAIL, each for one
-- reason that tests/integration/spec.sh checks in the --json report (run
-- with --mock --timeout 3).  Not an example to copy.
add = Tool {
  description = "Add",
  input = { a = field.number { required = true }, b = field.number { default = 0 } },
  function(args) return args.a + args.b end,
}

Step("a custom check that asserts", function(world)
  assert(world.output.x == 99, "x is not 99")
end)

Procedure {
  input = {
    fail = field.boolean { default = false },
    spin = field.boolean { default = false },
  },
  function(input)
    if input.fail then error("deliberate failure in the procedure") end
    while input.spin do end
    add({ a = 1 })
    state.level = "low"
    return { x = 1, text = "the quick brown fox" }
  end,
}

Specification([[
Feature: Broken on purpose
  Scenario: wrong value
    When the procedure runs
    Then the output x should be 2
    And the output x should be 1

  Scenario: undefined step
    When the procedure runs
    Then the moon should be made of cheese

  Scenario: procedure error
    Given the input fail is true
    When the procedure runs
    Then the procedure should complete successfully

  Scenario: should fail but succeeds
    When the procedure runs
    Then the procedure should fail

  Scenario: tool count
    When the procedure runs
    Then the add tool should be called exactly 2 times

  Scenario: tool never called with
    When the procedure runs
    Then the add tool should be called with a=5

  Scenario: unknown tool
    When the procedure runs
    Then the ghost tool should be called

  Scenario: bad regex
    When the procedure runs
    Then the output text should match pattern "([a-z"

  Scenario: regex mismatch
    When the procedure runs
    Then the output text should match pattern "^\d+$"

  Scenario: fuzzy too different
    When the procedure runs
    Then the output text should fuzzy match "a completely different sentence"

  Scenario: state mismatch
    When the procedure runs
    Then the state level should be "high"

  Scenario: output of a failed procedure
    Given the input fail is true
    When the procedure runs
    Then the output x should be 1

  Scenario: custom step asserts
    When the procedure runs
    Then a custom check that asserts

  Scenario: iterations
    When the procedure runs
    Then the total iterations should be between 3 and 5

  Scenario: bad json in a given
    Given the agent "nobody" calls tool "done" with args {not json}
    When the procedure runs

  Scenario: timeout
    Given the input spin is true
    When the procedure runs
    Then the procedure should complete successfully
]])
