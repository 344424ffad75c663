-- tests/spec/custom.tac: custom steps, Step("phrase", fn).  An exact phrase
-- gets the world ({input, output, state, ok, error, ran, mock, run});
-- a phrase with Lua pattern captures gets the captures, then the world.
-- Every scenario is expected to PASS (tests/integration/spec.sh).
Step("the numbers are (%d+) and (%d+)", function(a, b, world)
  world.input.a = tonumber(a)
  world.input.b = tonumber(b)
end)

Step("the total is (%-?%d+)", function(n, world)
  if world.output.total ~= tonumber(n) then
    error("the total is " .. tostring(world.output.total) .. ", expected " .. n, 0)
  end
end)

Step("the greeting is polite", function(world)
  assert(world.ok, "the procedure failed: " .. tostring(world.error))
  assert(world.output.greeting:find("^Hello"), "not polite: " .. tostring(world.output.greeting))
end)

Step("the state was touched", function(world)
  return world.state.touched == true
end)

Procedure {
  input = { a = field.number { default = 1 }, b = field.number { default = 2 } },
  function(input)
    state.touched = true
    return { total = input.a + input.b, greeting = "Hello there" }
  end,
}

Specification([[
Feature: Custom steps
  Scenario: captures and the world
    Given the numbers are 5 and 7
    When the procedure runs
    Then the total is 12
    And the greeting is polite
    And the state was touched

  Scenario: built-in and custom steps together
    When the procedure runs
    Then the total is 3
    And the output total should be 3
]])
