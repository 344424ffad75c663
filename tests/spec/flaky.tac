-- tests/spec/flaky.tac: a scenario whose outcome depends on math.random
-- (seeded from getrandom in every VM): with --runs N the runs disagree and
-- tactus-run reports it as flaky (tests/integration/spec.sh).
Procedure {
  function()
    return { coin = math.random() < 0.5 and "heads" or "tails" }
  end,
}

Specification([[
Feature: Coins
  Scenario: a coin flip
    When the procedure runs
    Then the output coin should be "heads"

  Scenario: always the same
    When the procedure runs
    Then the output coin should exist
]])
