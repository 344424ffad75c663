-- tests/spec/counts_broken.tac: scenarios that FAIL on purpose, each for the
-- reason tests/integration/spec.sh checks (counts with arguments, fuzzy
-- matching of the whole output).  Not an example to copy.
add = Tool {
  description = "Add two numbers",
  input = { a = field.number { required = true }, b = field.number { default = 0 } },
  function(args) return args.a + args.b end,
}
unused = Tool { description = "Never called", input = {}, function(args) return true end }

Procedure {
  function(input)
    add({ a = 1, b = 1 })
    add({ a = 1, b = 2 })
    add({ a = 2, b = 2 })
    return { greeting = "Hello, world!" }
  end,
}

Specification([[
Feature: Broken counts and fuzzy matches
  Scenario: exactly with arguments
    When the procedure runs
    Then the add tool should be called exactly 1 time with a=1

  Scenario: at least with arguments
    When the procedure runs
    Then the add tool should be called at least 2 times with a="2"

  Scenario: at most with arguments
    When the procedure runs
    Then the add tool should be called at most 1 time with a=1

  Scenario: never called, with arguments
    When the procedure runs
    Then the unused tool should be called exactly 1 time with x=1

  Scenario: fuzzy whole output
    When the procedure runs
    Then the output should fuzzy match "Goodbye, moon"

  Scenario: fuzzy any of
    When the procedure runs
    Then the output should fuzzy match any of ["Goodbye, moon", "Hello, there", "Farewell"]
]])
