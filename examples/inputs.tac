-- Inputs: a typed input schema.  Shows field.string / integer / number /
-- boolean / array with defaults, an enum, and a required field; --param
-- values are typed by the schema (JSON for arrays and objects).  A named
-- sub-procedure with a required input shows the error a missing one gives.
--
--   tactus-run run examples/inputs.tac
--   tactus-run run examples/inputs.tac --param topic=lua --param level=expert \
--       --param count=3 --param ratio=0.5 --param loud=true --param 'tags=["a","b"]'
--   tactus-run run examples/inputs.tac --param level=guru     # exit 1: not in the enum
--   tactus-run run examples/inputs.tac --param count=2.5      # exit 1: not an integer
Procedure {
  input = {
    topic = field.string { required = true, default = "sandboxes", description = "what to talk about" },
    level = field.string { enum = { "beginner", "expert" }, default = "beginner" },
    count = field.integer { default = 2, description = "how many lines" },
    ratio = field.number { default = 1.5 },
    loud  = field.boolean { default = false },
    tags  = field.array { default = { "demo" } },
  },
  output = {
    lines = field.array { required = true },
    tags = field.string { required = true },
    missing_input_error = field.string {},
  },
  function(input)
    local lines = {}
    for i = 1, input.count do
      local line = string.format("%d. %s for the %s (x%.1f)", i, input.topic, input.level, input.ratio)
      if input.loud then line = line:upper() end
      lines[#lines + 1] = line
    end

    -- A required input without a default must be given; the error names it.
    local ok, err = pcall(Procedure.run, "shout", {})
    return {
      lines = lines,
      tags = table.concat(input.tags, ","),
      missing_input_error = not ok and err.message or nil,
    }
  end,
}

shout = Procedure {
  input = { text = field.string { required = true, description = "the text to shout" } },
  function(input) return input.text:upper() end,
}

-- `tactus-run test examples/inputs.tac`: the input schema at work.
Specification([[
Feature: Typed inputs
  Scenario: the defaults
    When the procedure runs
    Then the output lines should have 2 items
    And the output lines.1 should be "1. sandboxes for the beginner (x1.5)"
    And the output tags should be "demo"
    And the output missing_input_error should contain "missing required field 'text'"

  Scenario: every type from text
    Given the input topic is lua
    And the input level is expert
    And the input count is 3
    And the input ratio is 0.5
    And the input loud is true
    And the input tags is ["a", "b"]
    When the procedure runs
    Then the output lines should have 3 items
    And the output lines.3 should be "3. LUA FOR THE EXPERT (X0.5)"
    And the output tags should be "a,b"

  Scenario Outline: a bad <field> is refused
    Given the input <field> is <value>
    When the procedure runs
    Then the procedure should fail with "<why>"

    Examples:
      | field | value | why                  |
      | level | guru  | must be one of       |
      | count | 2.5   | expected an integer  |
]])
