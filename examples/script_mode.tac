-- Script mode: no Procedure {}.  Top-level input {} declares the inputs and
-- resolves them at once (defaults, types), output {} the output schema;
-- the file's statements are the procedure and its return value the result.
input {
  n = field.integer { default = 10, description = "how many Fibonacci numbers" },
  sep = field.string { default = ", " },
}
output {
  sequence = field.string { required = true },
  sum = field.integer { required = true },
}

local fib, a, b, sum = {}, 0, 1, 0
for i = 1, input.n do
  fib[i] = tostring(a)
  sum = sum + a
  a, b = b, a + b
end
Log.info("computed", { n = input.n })

-- `tactus-run test examples/script_mode.tac`: in script mode the Given
-- inputs reach the file's body, which is the procedure.
Specification([[
Feature: Script mode
  Scenario: ten numbers
    When the procedure runs
    Then the output sequence should be "0, 1, 1, 2, 3, 5, 8, 13, 21, 34"
    And the output sum should be 88

  Scenario: five numbers and another separator
    Given the input n is 5
    And the input sep is "-"
    When the procedure runs
    Then the output sequence should be "0-1-1-2-3"
    And the output sum should be 7
]])

return { sequence = table.concat(fib, input.sep), sum = sum }
