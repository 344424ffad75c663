-- tests/spec/tactus_compat.tac: what real Tactus files rely on (docs/compat.md):
-- the fuzzy-match step as Tactus scores it, Python-literal step values,
-- Tactus's mocked Human answers, mocked agents calling done, structured
-- agent data, MessageHistory with python.iter, inline toolset tools, stage
-- transitions, Tool.reset, main = Procedure, agent.turn().  Every scenario
-- is expected to PASS with --mock (tests/integration/compat.sh).
local done = require("tactus.tools.done")

Toolset "desk" {
  tools = {
    { name = "ask", description = "Ask a human", input = { message = field.string { required = true } },
      handler = function(args)
        local ok = Human.approve({ message = args.message })
        return { approved = ok }
      end },
  },
}

greeter = Agent { model = "openai/gpt-4o-mini", system_prompt = "Greet." }
reviewer = Agent { model = "openai/gpt-4o-mini", tools = { "desk", done } }
extractor = Agent { model = "openai/gpt-4o-mini", output = { city = field.string {} } }

main = Procedure {
  input = { mode = field.string { default = "humans" } },
  function(input)
    if input.mode == "humans" then
      local ok = Human.approve({ message = "Go?" })
      local name = Human.input({ message = "Name?" })
      local review = Human.review({ message = "Review", artifact = "doc" })
      local esc = Human.escalate({ message = "Escalate?" })
      return { approved = ok, name = name, decision = review.decision, escalated = esc.escalated }
    elseif input.mode == "greet" then
      return greeter({ message = "hi" }).output
    elseif input.mode == "done" then
      -- Tactus's mock agents call done on their first turn, done in their
      -- tools or not.
      greeter()
      return { done = done.called(), reason = done.last_call().args.reason }
    elseif input.mode == "review" then
      reviewer("Please review")
      local last = Tool.last_result("desk_ask")
      return { asked = Tool.called("desk_ask"), approved = last and last.approved, done = done.called(),
               args = Tool.last_call("desk_ask").args.message }
    elseif input.mode == "data" then
      return extractor.turn({ inject = "Where?" }).output
    elseif input.mode == "history" then
      MessageHistory.inject_system("Be brief")
      MessageHistory.append({ role = "user", content = "Hello" })
      greeter()
      local n, roles = 0, {}
      for a, b in python.iter(MessageHistory.get()) do
        local msg = b or a
        n = n + 1
        roles[#roles + 1] = msg.role
      end
      local id = MessageHistory.checkpoint("after_greeting")
      MessageHistory.append({ role = "user", content = "More" })
      MessageHistory.append({ role = "assistant", content = "Sure" })
      local before = #MessageHistory.get()
      MessageHistory.rewind_to("after_greeting")
      local tail = MessageHistory.tail(1)
      MessageHistory.reset()
      return { count = n, roles = table.concat(roles, ","), before = before, checkpoint = id,
               tail = tail[1].content, kept = #MessageHistory.get() }
    elseif input.mode == "stages" then
      Stage.set("plan")
      Stage.set("build")
      Stage.set("ship")
      return { stage = Stage.current(), transitions = #Stage.history() }
    elseif input.mode == "reset" then
      local add = Tool { name = "adder", function(a) return (a.x or 0) + 1 end }
      add({ x = 1 })
      add({ x = 2 })
      local before = Tool.called("adder")
      Tool.reset("adder")
      return { before = before, after = Tool.called("adder") }
    elseif input.mode == "strict" then
      Stage.advance()
    end
    return { mode = input.mode }
  end,
}

Specification([[
Feature: Tactus compatibility
  Scenario: mocked Human answers are Tactus's
    When the procedure runs
    Then the procedure should complete successfully
    And the output approved should be true
    And the output name should be "test input"
    And the output decision should be "Approve"
    And the output escalated should be true

  Scenario: the fuzzy match counts containment as a match
    Given the input mode is greet
    And the agent "greeter" responds with "Hello! I'm World, nice to meet you!"
    When the procedure runs
    Then the output should fuzzy match any of ["Hello", "Hi", "Hey"] with threshold 0.9
    And the output should fuzzy match any of ['Bonjour', 'hello'] with threshold 0.95
    And the output should fuzzy match "hello im world nice to meet you" with threshold 1.0

  Scenario: the fuzzy match is difflib's ratio otherwise
    Given the input mode is greet
    And the agent "greeter" responds with "Hello! How can I assist you today?"
    When the procedure runs
    Then the output should fuzzy match "Hello! I'm World, nice to meet you!" with threshold 0.5
    And the output should fuzzy match "Hello! I'm World, nice to meet you!" with threshold 0.50

  Scenario: a mocked agent calls done on its first turn
    Given the input mode is done
    When the procedure runs
    Then the output done should be true
    And the output reason should be "Mock response from greeter."
    And the done tool should be called exactly 1 time

  Scenario: tool arguments as a Python dict, an inline toolset tool
    Given the input mode is review
    And the agent "reviewer" responds with "Asking."
    And the agent "reviewer" calls tool "desk_ask" with args "{'message': 'Ship it?'}"
    And the agent "reviewer" calls tool "done" with args {'reason': 'asked'}
    When the procedure runs
    Then the output asked should be true
    And the output approved should be true
    And the output done should be true
    And the output args should be "Ship it?"
    And the desk_ask tool should be called with message="Ship it?"

  Scenario: structured agent data, agent.turn()
    Given the input mode is data
    And the agent "extractor" returns data {'city': 'Oslo'}
    When the procedure runs
    Then the output city should be "Oslo"

  Scenario: MessageHistory and python.iter
    Given the input mode is history
    When the procedure runs
    Then the output count should be 3
    And the output roles should be "system,user,assistant"
    And the output before should be 5
    And the output checkpoint should be 3
    And the output tail should be "Mock response from greeter."
    And the output kept should be 1

  Scenario: stage transitions
    Given the input mode is stages
    When the procedure runs
    Then the stage should transition from plan to build
    And the stage should transition from build to ship
    And the stage should be ship
    And the output transitions should be 3

  Scenario: Tool.reset
    Given the input mode is reset
    When the procedure runs
    Then the output before should be true
    And the output after should be false

  Scenario: a missing primitive function is an error naming it
    Given the input mode is strict
    When the procedure runs
    Then the procedure should fail with "Stage.advance is not available in tactus-run"
]])
