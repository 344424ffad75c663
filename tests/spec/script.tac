-- tests/spec/script.tac: a script-mode file (no Procedure): the file's body
-- is the procedure, so the Given steps reach it before it runs.  Every
-- scenario is expected to PASS (tests/integration/spec.sh).
input {
  n = field.integer { default = 3 },
  word = field.string { default = "hi" },
}
output { text = field.string { required = true } }

Specification([[
Feature: Script mode
  Scenario: the defaults
    When the procedure runs
    Then the output text should be "hi hi hi"

  Scenario: Given inputs reach the script
    Given the input n is 2
    And the input word is "yo"
    When the procedure runs
    Then the output text should be "yo yo"
    And the output text should fuzzy match "yo  YO"

  Scenario: a bad input fails the script
    Given the input n is many
    When the procedure runs
    Then the procedure should fail with "expected an integer"
]])

local parts = {}
for i = 1, input.n do parts[i] = input.word end
return { text = table.concat(parts, " ") }
