-- Hello: the smallest procedure.  Takes a name, logs a greeting, returns it.
Procedure {
  input = {
    name = field.string { default = "world", description = "who to greet" },
  },
  output = {
    greeting = field.string { required = true },
  },
  function(input)
    local greeting = "Hello, " .. input.name .. "!"
    Log.info("greeting", { name = input.name })
    return { greeting = greeting }
  end,
}

-- `tactus-run test examples/hello.tac` runs these scenarios, each in a fresh sandbox.
Specification([[
Feature: Hello
  Scenario: greets the world by default
    When the procedure runs
    Then the procedure should complete successfully
    And the output greeting should be "Hello, world!"
    And the log should contain "greeting"

  Scenario: greets by name
    Given the input name is "Ada"
    When the procedure runs
    Then the output greeting should be "Hello, Ada!"
    And the output greeting should match pattern "^Hello, [A-Z]\w*!$"
]])
