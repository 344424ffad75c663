-- Sub-procedures and modules: Procedure.run("word_count.tac", params) runs
-- another .tac beside this one, in its own globals, with its input schema
-- checked (and as a checkpoint, so a replay does not run it again);
-- require("lib.textutil") loads a local module (examples/lib/textutil.tac).
-- A procedure declared in this file and assigned to a global is a named
-- sub-procedure: count.run({...}) or Procedure.run("count", {...}).
local textutil = require("lib.textutil")

count_vowels = Procedure {
  input = { text = field.string { required = true } },
  function(input)
    local _, n = input.text:lower():gsub("[aeiou]", "")
    return n
  end,
}

Procedure {
  input = { text = field.string { default = "sandboxes keep agents honest and hosts safe" } },
  function(input)
    local counted = Procedure.run("word_count.tac", { text = input.text, min_length = 4 })
    return {
      title = textutil.title_case(input.text),
      reversed = textutil.reverse_words(input.text),
      module_version = textutil.version,
      same_module = require("lib.textutil") == textutil,   -- loaded once
      words_of_4_or_more = counted.words,
      longest_word = counted.longest,
      vowels = count_vowels.run({ text = input.text }),
      vowels_by_name = Procedure.run("count_vowels", { text = "aeiou" }),
    }
  end,
}

-- `tactus-run test examples/subprocedure.tac`
Specification([[
Feature: Sub-procedures and modules
  Scenario: the default text
    When the procedure runs
    Then the output title should be "Sandboxes Keep Agents Honest And Hosts Safe"
    And the output words_of_4_or_more should be 6
    And the output longest_word should be "sandboxes"
    And the output vowels should be 13
    And the output vowels_by_name should be 5
    And the output same_module should be true

  Scenario: another text
    Given the input text is "tiny cats nap"
    When the procedure runs
    Then the output reversed should be "nap cats tiny"
    And the output words_of_4_or_more should be 2
]])
