-- tests/spec/steps.tac: every built-in step form of `tactus-run test`, each
-- scenario expected to PASS with --mock (tests/integration/spec.sh).
local done = require("tactus.tools.done")

add = Tool {
  description = "Add two numbers",
  input = { a = field.number { required = true }, b = field.number { default = 0 } },
  function(args) return args.a + args.b end,
}

-- A tool that must never really run in a test: every scenario mocks it
-- (Mocks {} below, or a Given step, which wins).
lookup = Tool {
  description = "An external lookup",
  input = { q = field.string {} },
  function(args) error("the real lookup must not run in tests") end,
}

helper = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = "Help, then call done.",
  tools = { done, add },
}

sentiment = Model { type = "mock", value = { label = "neutral" } }

Mocks {
  lookup = { returns = { hits = 0 } },
}

Procedure {
  input = {
    name = field.string { default = "world" },
    count = field.integer { default = 2 },
    loud = field.boolean { default = false },
    tags = field.array { default = {} },
    message = field.string {},
    review = field.boolean { default = false },
  },
  state = { visits = field.integer { default = 0 } },
  function(input)
    if input.name == "boom" then error("deliberate failure: boom requested") end
    for _ = 1, input.count do
      Iterations.increment()
      State.increment("visits")
    end
    local sum = add({ a = input.count, b = 10 })
    local found = lookup({ q = input.name })
    local reply = helper({ message = "Say hi to " .. input.name })
    local approved = Human.approve({ message = "Proceed with " .. input.name .. "?" })
    local city = Human.input({ message = "Your city?" })
    local mood = sentiment({ text = input.name }).output.label
    local ping = Host.call("host.ping", { from = input.name })
    local decision, escalated
    if input.review then
      decision = Human.review({ message = "Review the greeting", artifact = input.name }).decision
      escalated = Human.escalate({ message = "Escalate?" })
    end
    state.last_name = input.name
    Stage.set("greeted")
    Stop.request("finished " .. input.name, true)
    Log.info("greeting " .. input.name)
    local greeting = "Hello, " .. input.name .. "!"
    if input.loud then greeting = greeting:upper() end
    return {
      greeting = greeting, sum = sum, found = found, reply = reply.text, done_called = done.called(),
      approved = approved, city = city, mood = mood, tags = input.tags, items = { "a", "b", "c" },
      nested = { x = { y = 5 } }, ratio = 0.75, message = input.message, ping = ping,
      decision = decision, escalated = escalated,
    }
  end,
}

Specification([[
# Comments and @tags are ignored.
@smoke
Feature: Built-in steps
  Every step form tactus-run knows, against one procedure.

  Scenario: defaults and the checks on output, state, tools, agents and humans
    Given the procedure has started
    When the procedure runs
    Then the procedure should complete successfully
    And the procedure should succeed
    And the output greeting should be "Hello, world!"
    And the output greeting should be Hello, world!
    And the output greeting should not be "Hi"
    And the output greeting should exist
    And the output missing should not exist
    And the output should contain greeting
    And the output should exist
    And the output greeting should contain "world"
    And the output greeting should not contain "bye"
    And the output greeting should match pattern "^Hello, \w+!$"
    And the output greeting should match pattern "(?i)^hello, (world|there)[!.]$"
    And the output greeting should not match pattern "\d{2,}"
    And the output greeting should match lua pattern "^Hello, %a+!$"
    And the output greeting should fuzzy match "hello world"
    And the output greeting should fuzzy match "Hello, world" with threshold 0.9
    And the output greeting should fuzzy match any of ["Goodbye", "Hello world"] with threshold 80%
    And the output greeting should be similar to "Hello, world"
    And the output greeting should be similar to "Hello world!" with 90% similarity
    And the output sum should be 12
    And the output found.hits should be 0
    And the output nested.x.y should be 5
    And the output items should have 3 items
    And the output items should contain "b"
    And the output items.2 should be b
    And the output ratio should be greater than 0.5
    And the output ratio should be less than 1
    And the output ratio should be at least 0.75
    And the output ratio should be at most 0.75
    And the output ratio should not be 1
    And the output done_called should be true
    And the output done_called should be True
    And the output approved should be true
    And the output city should be "test input"
    And the output mood should be neutral
    And the output reply should be "Mock response from helper."
    And the output message should be nil
    And the state visits should be 2
    And the state visits should exist
    And the state visits should be at least 2
    And the state nope should not exist
    And the state should contain visits
    And the total iterations should be less than 5
    And the total iterations should be 2
    And the total iterations should be between 1 and 3
    And the add tool should be called
    And the add tool should have been called
    And the add tool should be called exactly 1 time
    And the add tool should be called at least 1 time
    And the add tool should be called at most 2 times
    And the add tool should be called with a=2
    And the add tool should be called with a=2 and b=10
    And the add tool should be called with a matching pattern "^2$"
    And the tool "add" should be called exactly 1 time
    And the lookup tool should be called with q="world"
    And the done tool should be called
    And the "host.ping" tool should be called with from="world"
    And the lookup should have been called
    And the lookup should have been called 1 time
    And the nothing should not have been called
    And the helper agent should take at least 1 turn
    And the helper agent should take 1 turn
    And the agent should take at least 1 turn
    And Human.approve should be called
    And Human.input should have been called
    And Human.review should not be called
    And the stop reason should be "finished world"
    And the stop reason should contain world
    And the log should contain "greeting world"
    And the name parameter is nil

  Scenario: inputs typed by the input schema
    Given the input name is "Ada"
    And the input count is 3
    And the input loud is true
    And the input tags is ["x", "y"]
    When the procedure runs
    Then the output greeting should be "HELLO, ADA!"
    And the output sum should be 13
    And the output tags should contain "y"
    And the output tags should have 2 items
    And the state visits should be 3
    And the name parameter is Ada

  Scenario: inputs from a table
    Given the inputs are:
      | name  | value |
      | name  | Bob   |
      | count | 1     |
    When the procedure runs
    Then the output greeting should be "Hello, Bob!"
    And the output sum should be 11

  Scenario: an input from a doc string
    Given the input name is:
      """
      Zed
      """
    When the procedure runs
    Then the output greeting should be "Hello, Zed!"

  Scenario: the message
    Given the message is "hello there"
    When the procedure runs
    Then the output message should be "hello there"

  Scenario: a scripted agent turn
    Given the agent "helper" responds with "Sure thing"
    And the agent "helper" calls tool "done" with args {"reason": "finished"}
    When the helper agent takes turn
    Then the output reply should be "Sure thing"
    And the done tool should be called with reason="finished"
    And the output done_called should be true

  Scenario: an agent that does not call done
    Given the agent "helper" responds with "no tools today"
    When the procedure runs
    Then the done tool should not be called
    And the output done_called should be false

  Scenario: a tool mocked by a Given step
    Given the tool "add" returns 99
    And the tool "lookup" returns {"hits": 7}
    When the procedure runs
    Then the output sum should be 99
    And the output found.hits should be 7
    And the add tool should be called exactly 1 time

  Scenario: a dependency mocked Tactus style
    Given the lookup returns '{"hits": 5}'
    When the procedure runs
    Then the output found.hits should be 5

  Scenario: a model mocked by a Given step
    Given the model "sentiment" returns {"label": "happy"}
    When the procedure runs
    Then the output mood should be happy

  Scenario: human answers by type
    Given Human.approve will return false
    And Human.input will return 'Paris'
    When the procedure runs
    Then the output approved should be false
    And the output city should be "Paris"

  Scenario: human answers by message
    Given when asked "Proceed with" return false
    And when asked "Your city" return 'Rome'
    When the procedure runs
    Then the output approved should be False
    And the output city should be Rome

  Scenario: the user presses and enters
    Given the user presses no
    And the user enters 'Oslo'
    When the procedure runs
    Then the output approved should be false
    And the output city should be "Oslo"

  Scenario: state given before the run
    Given the state visits is 10
    When the procedure runs
    Then the state visits should be 12

  Scenario: a run described in words
    When the procedure runs with the default inputs
    Then the procedure should complete successfully

  Scenario: an expected failure
    Given the input name is boom
    When the procedure runs
    Then the procedure should fail
    And the procedure should fail with "boom requested"
    And the error should contain "deliberate failure"
    And the add tool should not be called

  Scenario: no When step: the first Then runs the procedure
    Then the output sum should be 12

  Scenario: review and escalation answers, stage and stop checks
    Given the input review is true
    And Human.review will return {"decision": "reject", "feedback": "too short"}
    And Human.escalate will return "handled"
    When the agent "helper" takes turns
    Then the output decision should be "reject"
    And the output escalated should be "handled"
    And Human.review should have been called
    And Human.escalate should be called
    And the stage should be greeted
    And the stop reason should match pattern "^finished \w+$"

  Scenario: more state checks, a doc string mock, and running twice
    Given the tool "lookup" returns:
      """
      {"hits": 9}
      """
    When the procedure is run
    Then the output found.hits should be 9
    And the state last_name should be "world"
    And the state last_name should not be "Ada"
    And the state last_name should contain "orl"
    And the state last_name should match pattern "^w.r"
    And the state last_name should be similar to "World"
    And the state visits should be less than 3
    When the procedure executes
    Then the state visits should be 4
    And the add tool should be called exactly 2 times
]])
