-- tests/spec/eval.tac: an Evaluation whose every case passes every
-- evaluator (tactus-run eval --mock exits 0; tests/integration/spec.sh).
Procedure {
  input = { name = field.string { required = true } },
  function(input)
    return { greeting = "Hello, " .. input.name .. "!", length = #input.name }
  end,
}

Evaluation({
  name = "greetings",
  runs = 2,
  dataset = {
    { name = "alice", inputs = { name = "Alice" }, expected_output = { greeting = "Hello, Alice!" } },
    { name = "bob", inputs = { name = "Bob" }, expected_output = { greeting = "Hello, Bob!" } },
  },
  evaluators = {
    field.equals_expected { field = "greeting" },
    field.exact_match { field = "greeting" },
    field.contains { field = "greeting", value = "Hello" },
    field.contains_any { field = "greeting", value = { "Alice", "Bob" } },
    field.min_length { field = "greeting", value = 5 },
    field.max_length { field = "greeting", value = 40 },
    field.matches { field = "greeting", pattern = "^Hello, [A-Z]\\w+!$" },
    field.regex { field = "greeting", pattern = "^Hello, %u%l+!$", lua = true },
    field.one_of { field = "greeting", values = { "Hello, Alice!", "Hello, Bob!" } },
    field.range { field = "length", min = 1, max = 10 },
    field.is_instance { field = "greeting", value = "str" },
    field.llm_judge { rubric = "Is the greeting friendly?" },
    { name = "has_comma", type = "contains", field = "greeting", value = "," },
    function(output) return output.length > 0 end,
  },
  thresholds = { min_success_rate = 1.0, max_duration = 10 },
})
