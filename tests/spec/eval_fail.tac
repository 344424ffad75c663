-- tests/spec/eval_fail.tac: an Evaluation that misses its threshold on
-- purpose (tactus-run eval exits 1; tests/integration/spec.sh).
Procedure {
  input = { name = field.string { required = true } },
  function(input)
    if input.name == "crash" then error("cannot greet a crash") end
    return { greeting = "Hi " .. input.name }
  end,
}

Evaluations {
  name = "strict greetings",
  dataset = {
    { name = "carol", inputs = { name = "Carol" }, expected_output = { greeting = "Hello, Carol!" } },
    { name = "dave", inputs = { name = "Dave" }, expected_output = { greeting = "Hi Dave" } },
    { name = "crash", inputs = { name = "crash" } },
  },
  evaluators = { field.equals_expected { field = "greeting" } },
  thresholds = { min_success_rate = 0.9 },
}
