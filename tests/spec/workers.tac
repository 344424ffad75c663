-- tests/spec/workers.tac: four scenarios of one second each, to time
-- --workers 1 against --workers 4 (tests/integration/spec.sh).
Procedure {
  input = { id = field.integer { default = 0 } },
  function(input)
    Sleep(1)
    return { id = input.id }
  end,
}

Specification([[
Feature: Parallel scenarios
  Scenario Outline: sleeper <id>
    Given the input id is <id>
    When the procedure runs
    Then the output id should be <id>

    Examples:
      | id |
      | 1  |
      | 2  |
      | 3  |
      | 4  |
]])
