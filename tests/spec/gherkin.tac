-- tests/spec/gherkin.tac: the Gherkin forms -- several Specification
-- blocks, Background, Scenario Outline with two Examples tables, Example:,
-- And / But / *, doc strings, data tables, comments, tags and descriptions.
-- Every scenario is expected to PASS (tests/integration/spec.sh).
Procedure {
  input = {
    a = field.number { default = 1 },
    b = field.number { default = 2 },
    op = field.string { default = "add", enum = { "add", "mul" } },
  },
  function(input)
    local r = input.op == "add" and input.a + input.b or input.a * input.b
    return { result = r, op = input.op }
  end,
}

Specification([[
@math
Feature: Arithmetic
  A description line under the Feature.
  Descriptions are ignored, like this second line.

  Background:
    Given the procedure has started
    And the input op is add

  # A comment between scenarios
  Scenario Outline: <a> plus <b>
    Given the input a is <a>
    * the input b is <b>
    When the procedure runs
    Then the output result should be <sum>
    But the output result should not be -1

    Examples: small
      | a | b | sum |
      | 1 | 2 | 3   |
      | 2 | 5 | 7   |

    @more
    Examples: large
      | a   | b   | sum  |
      | 100 | 250 | 350  |

  Example: the Background applies
    When the procedure runs
    Then the output op should be "add"
    And the output result should be 3
]])

Specifications [==[
Feature: Multiplication
  Scenario: a table of inputs and a doc string input
    Given the inputs are:
      | a | 6 |
      | b | 7 |
    And the input op is:
      """
      mul
      """
    When the procedure runs
    Then the output result should be 42
]==]
