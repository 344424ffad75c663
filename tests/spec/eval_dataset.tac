-- tests/spec/eval_dataset.tac: cases read from dataset_file (cases.jsonl in
-- the workspace, written by tests/integration/spec.sh: JSON Lines, or
-- missing, or with a line that is not JSON).
Procedure {
  input = { name = field.string { required = true } },
  function(input) return { greeting = "Hello, " .. input.name .. "!" } end,
}

Evaluation {
  name = "from a file",
  dataset = { { name = "inline", inputs = { name = "Inline" }, expected_output = { greeting = "Hello, Inline!" } } },
  dataset_file = "cases.jsonl",
  evaluators = { field.equals_expected { field = "greeting" } },
  thresholds = { min_success_rate = 1.0 },
}
