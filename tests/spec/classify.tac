-- tests/spec/classify.tac: Classify { method = "llm" | "fuzzy" }, as
-- Tactus's stdlib classifier behaves (docs/compat.md).  Every scenario is
-- expected to PASS with --mock (tests/integration/compat.sh).
local classify = require("tactus.classify")

Procedure {
  input = {
    message = field.string { default = "I was double charged, please refund" },
    mode = field.string { default = "llm" },
  },
  output = {
    label = field.string { required = true },
    retries = field.number { required = true },
  },
  function(input)
    if input.mode == "llm" then
      local triage = Classify {
        name = "triage", method = "llm", classes = { "billing", "account", "bug" },
        prompt = "Route the support message.", max_retries = 3,
      }
      local r = triage(input.message)
      return { label = r.value, retries = r.retry_count, confidence = r.confidence }
    elseif input.mode == "exhausted" then
      local stubborn = Classify {
        name = "stubborn", method = "llm", classes = { "yes", "no" }, prompt = "Yes or no?", max_retries = 2,
      }
      local r = stubborn { text = input.message }
      return { label = r.value, retries = r.retry_count, error = r.error }
    elseif input.mode == "unmocked" then
      -- No Mocks entry: the classifier's own agent answers (a mocked turn,
      -- which names no class), so it retries and gives up.
      local r = Classify { name = "picker", method = "llm", classes = { "alpha", "beta" },
                           prompt = "alpha or beta", max_retries = 1, input = input.message }
      return { label = r.value, retries = r.retry_count }
    elseif input.mode == "token_set" then
      local fuzzy = Classify {
        method = "fuzzy", threshold = 0.9, algorithm = "token_set_ratio",
        classes = { "double charged", "refund", "login", "crash" },
      }
      local r = fuzzy(input.message)
      return { label = r.value, retries = r.retry_count, matched = r.matched_text, confidence = r.confidence }
    elseif input.mode == "binary" then
      local r = Classify { method = "fuzzy", expected = "Customer Service", threshold = 0.8, input = input.message }
      return { label = r.value, retries = r.retry_count, confidence = r.confidence }
    elseif input.mode == "module" then
      local c = classify.FuzzyMatchClassifier:new { classes = { "alpha", "beta" }, threshold = 0.6 }
      local r = c:classify(input.message)
      return { label = r.value, retries = r.retry_count }
    elseif input.mode == "bad_method" then
      Classify { method = "neural", classes = { "a" } }
    end
    return { label = "?", retries = -1 }
  end,
}

Mocks {
  -- An invalid class first: the classifier retries once.
  triage = { temporal = { { value = "Maybe", confidence = 0.2 }, { value = "billing", confidence = 0.91 } } },
  stubborn = { returns = "perhaps" },
}

Specification([[
Feature: Classify
  Scenario: an answer that is not a class is retried
    When the procedure runs
    Then the output label should be "billing"
    And the output retries should be 1
    And the output confidence should be 0.91

  Scenario: retries run out
    Given the input mode is exhausted
    When the procedure runs
    Then the output label should be "ERROR"
    And the output retries should be 2
    And the output error should contain "no valid class after 2 retries"

  Scenario: without a Mocks entry the classifier's agent answers
    Given the input mode is unmocked
    When the procedure runs
    Then the output label should be "ERROR"
    And the output retries should be 1

  Scenario: a scripted agent answer is parsed as a class
    Given the input mode is unmocked
    And the agent "picker" responds with "**Beta** - clearly the second one"
    When the procedure runs
    Then the output label should be "beta"
    And the output retries should be 0

  Scenario: fuzzy multi-class with token_set_ratio
    Given the input message is "double charged"
    And the input mode is token_set
    When the procedure runs
    Then the output label should be "double charged"
    And the output confidence should be 1
    And the output retries should be 0

  Scenario: fuzzy NO_MATCH below the threshold
    Given the input message is "After the last update, the app crashes whenever I click Save."
    And the input mode is token_set
    When the procedure runs
    Then the output label should be "NO_MATCH"
    And the output matched should not exist

  Scenario: fuzzy binary (expected)
    Given the input message is "customer service"
    And the input mode is binary
    When the procedure runs
    Then the output label should be "Yes"
    And the output confidence should be 1

  Scenario: fuzzy binary, no
    Given the input message is "billing department"
    And the input mode is binary
    When the procedure runs
    Then the output label should be "No"

  Scenario: require("tactus.classify")
    Given the input message is "alpah"
    And the input mode is module
    When the procedure runs
    Then the output label should be "alpha"

  Scenario: an unknown method is an error naming it
    Given the input mode is bad_method
    When the procedure runs
    Then the procedure should fail with "method 'neural' is not available; the methods are llm and fuzzy"
]])
