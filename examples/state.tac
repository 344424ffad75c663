-- State: the procedure's state table.  state = {...} declares initial values;
-- state.x reads and writes; State.increment / State.append / State.all are
-- the helpers.  The final state is part of the result (--json: "state").
Procedure {
  input = { words = field.array { default = { "alpha", "beta", "gamma", "beta" } } },
  state = {
    seen = field.integer { default = 0 },
    longest = "",
  },
  function(input)
    for _, w in ipairs(input.words) do
      State.increment("seen")
      State.increment("letters", #w)        -- starts from 0 when unset
      if #w > #state.longest then state.longest = w end
      if not (state.unique or {})[w] then
        state.unique = state.unique or {}
        state.unique[w] = true
        State.append("order", w)            -- creates the list on first use
      end
    end
    local all = State.all()                 -- a copy: changing it does not change state
    all.seen = -1
    return { seen = state.seen, letters = state.letters, longest = state.longest,
             order = state.order, copy_is_separate = state.seen ~= all.seen }
  end,
}

-- `tactus-run test examples/state.tac`
Specification([[
Feature: State
  Scenario: counts, appends and copies
    When the procedure runs
    Then the state seen should be 4
    And the state letters should be 18
    And the state longest should be "alpha"
    And the state order should have 3 items
    And the state unique.gamma should be true
    And the output copy_is_separate should be true

  Scenario: other words
    Given the input words is ["a", "bb", "a"]
    When the procedure runs
    Then the state seen should be 3
    And the state longest should be "bb"
    And the output order should have 2 items
]])
