-- Word count: a small procedure on its own, and the sub-procedure that
-- subprocedure.tac runs with Procedure.run("word_count.tac", {...}).
Procedure {
  input = {
    text = field.string { default = "the quick brown fox jumps over the lazy dog" },
    min_length = field.integer { default = 1 },
  },
  output = {
    words = field.integer { required = true },
    longest = field.string { required = true },
  },
  function(input)
    local words, longest = 0, ""
    for w in input.text:gmatch("%a+") do
      if #w >= input.min_length then
        words = words + 1
        if #w > #longest then longest = w end
      end
    end
    return { words = words, longest = longest }
  end,
}

-- `tactus-run test examples/word_count.tac`
Specification([[
Feature: Word count
  Scenario: the default sentence
    When the procedure runs
    Then the output words should be 9
    And the output longest should be "quick"

  Scenario Outline: words of at least <min> letters
    Given the input text is "a bb ccc dddd"
    And the input min_length is <min>
    When the procedure runs
    Then the output words should be <words>
    And the output longest should be "dddd"

    Examples:
      | min | words |
      | 1   | 4     |
      | 3   | 2     |
]])
