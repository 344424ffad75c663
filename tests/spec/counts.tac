-- tests/spec/counts.tac: tool call counts with arguments, fuzzy matching of
-- the whole output, and --param (each scenario expected to PASS;
-- tests/integration/spec.sh; "from --param" needs --param name=Zed).
add = Tool {
  description = "Add two numbers",
  input = { a = field.number { required = true }, b = field.number { default = 0 } },
  function(args) return args.a + args.b end,
}

Procedure {
  input = { name = field.string { default = "world" } },
  function(input)
    add({ a = 1, b = 1 })
    add({ a = 1, b = 2 })
    add({ a = 2, b = 2 })
    return { greeting = "Hello, " .. input.name .. "!", calls = add.call_count() }
  end,
}

Specification([[
Feature: Counts with arguments, fuzzy output, --param
  Scenario: counts with arguments
    When the procedure runs
    Then the add tool should be called exactly 1 time with a=2
    And the add tool should be called exactly 2 times with a=1
    And the add tool should be called at least 2 times with a="1"
    And the add tool should be called at most 1 time with a=1 and b=2
    And the add tool should be called at most 0 times with a=3
    And the add tool should be called exactly 0 times with a=1, b=5
    And the tool "add" should be called exactly 1 time with a=2, b=2

  Scenario: fuzzy match on the whole output
    When the procedure runs
    Then the output should fuzzy match "Hello, world"
    And the output should fuzzy match "hello world" with threshold 0.8
    And the output should fuzzy match any of ["Goodbye, moon", "Hello, world!"]
    And the output should fuzzy match any of ["Hi, moon", "Hallo, welt!"] with threshold 50%

  Scenario: from --param
    When the procedure runs
    Then the output greeting should be "Hello, Zed!"
]])
