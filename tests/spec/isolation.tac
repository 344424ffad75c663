-- tests/spec/isolation.tac: every scenario runs in a fresh sandbox, so what
-- one scenario does to globals, state, tool call counts, mocks and files in
-- /workspace is gone in the next (test gives each run an overlay over the
-- current directory; tests/integration/spec.sh checks the directory itself
-- is untouched).  Run with --workers 1 so "leaves traces" runs first.
counter = Tool {
  description = "Count",
  input = { n = field.number { default = 1 } },
  function(args) return args.n end,
}

Procedure {
  input = { mark = field.boolean { default = false } },
  function(input)
    local seen_state = state.marked == true
    local seen_global = rawget(_G, "leaked") ~= nil
    if input.mark then
      state.marked = true
      leaked = "yes"
      File.write("isolation-mark.txt", "written by the first scenario\n")
    end
    local v = counter({ n = 7 })
    return { seen_state = seen_state, seen_global = seen_global, counted = v,
             file_there = File.exists("isolation-mark.txt") }
  end,
}

Specification([[
Feature: Isolation
  Scenario: leaves traces
    Given the input mark is true
    And the tool "counter" returns 42
    When the procedure runs
    Then the output counted should be 42
    And the state marked should be true
    And the counter tool should be called exactly 1 time
    And the output file_there should be true

  Scenario: sees none of them
    When the procedure runs
    Then the output seen_state should be false
    And the output seen_global should be false
    And the state marked should not exist
    And the output counted should be 7
    And the counter tool should be called exactly 1 time
    And the output file_there should be false
]])
