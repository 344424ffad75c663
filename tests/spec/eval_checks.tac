-- tests/spec/eval_checks.tac: the evaluators that look past the output
-- (contains_all, length, tool_called, state_check, max_iterations,
-- max_tokens, max_cost, llm_judge) and the usage thresholds.  "passing":
-- every evaluator passes; "failing": every evaluator fails, each for a
-- reason tests/integration/spec.sh checks; "usage": an agent's real token
-- usage and cost against the fake model server, and the judge model.
ping = Tool { description = "Ping", input = {}, function(args) return "pong" end }
-- (a model the price table does not list: its cost stays unknown)
writer = Agent { model = "openai/unpriced-test-model", disable_streaming = true }

Procedure {
  input = {
    name = field.string { required = true },
    loops = field.integer { default = 2 },
    pings = field.integer { default = 2 },
    talk = field.boolean { default = false },
  },
  function(input)
    for _ = 1, input.loops do Iterations.increment() end
    for _ = 1, input.pings do ping() end
    state.name = input.name
    local greeting = "Hello, " .. input.name .. "!"
    if input.talk then greeting = writer({ message = "Greet " .. input.name }).text end
    return { greeting = greeting }
  end,
}

local ada = { { name = "ada", inputs = { name = "Ada" } } }

Evaluation {
  name = "passing",
  dataset = ada,
  evaluators = {
    field.contains_all { field = "greeting", value = { "Hello", "Ada" } },
    field.length { field = "greeting", value = 11 },
    { type = "tool_called", value = "ping", min_value = 2, max_value = 2 },
    { type = "state_check", field = "name", value = "Ada" },
    { type = "max_iterations", value = 2 },
    { type = "max_tokens", value = 0 },
  },
  thresholds = { min_success_rate = 1.0, max_tokens_per_run = 0 },
}

Evaluation {
  name = "failing",
  dataset = ada,
  evaluators = {
    field.contains_all { field = "greeting", value = { "Hello", "Bob" } },
    field.length { field = "greeting", value = 5 },
    { type = "tool_called", value = "ping", min_value = 3 },
    { type = "state_check", field = "name", value = "Bob" },
    { type = "max_iterations", value = 1 },
    { type = "max_tokens" },
  },
  thresholds = { min_success_rate = 0.0 },
}

Evaluation {
  name = "usage",
  dataset = { { name = "talk", inputs = { name = "Ada", talk = true }, expected_output = { greeting = "a friendly greeting" } } },
  evaluators = {
    { name = "tokens within 20", type = "max_tokens", value = 20 },
    { name = "tokens within 10", type = "max_tokens", value = 10 },
    { name = "cost within 1", type = "max_cost", value = 1 },
    { name = "judge: friendly", type = "llm_judge", rubric = "Is the greeting friendly?" },
    { name = "judge: formal", type = "llm_judge", rubric = "Is the greeting formal?", threshold = 0.5 },
  },
  thresholds = { min_success_rate = 0.0, max_tokens_per_run = 20, max_cost_per_run = 1 },
}
