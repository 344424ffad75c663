-- tests/spec/compat_broken.tac: the steps of tactus_compat.tac failing on
-- purpose; tests/integration/compat.sh checks each message.
greeter = Agent { model = "openai/gpt-4o-mini" }

Procedure {
  input = { mode = field.string { default = "greet" } },
  function(input)
    if input.mode == "stages" then
      Stage.set("plan")
      Stage.set("build")
      Stage.set("ship")
      return {}
    end
    return { text = greeter({ message = "hi" }).output }
  end,
}

Specification([[
Feature: Broken compat steps
  Scenario: fuzzy below threshold
    Given the agent "greeter" responds with "Hello! How can I assist you today?"
    When the procedure runs
    Then the output text should fuzzy match "Hello! I'm World, nice to meet you!" with threshold 0.52

  Scenario: an empty output matches nothing
    Given the agent "greeter" responds with ""
    When the procedure runs
    Then the output text should fuzzy match "anything"

  Scenario: malformed Python args
    Given the agent "greeter" calls tool "done" with args "{'reason': }"

  Scenario: similar to is rapidfuzz's ratio
    Given the agent "greeter" responds with "Hello there"
    When the procedure runs
    Then the output text should be similar to "Hello, there!" with 95% similarity

  Scenario: a stage transition that did not happen
    Given the input mode is stages
    When the procedure runs
    Then the stage should transition from ship to plan
]])
