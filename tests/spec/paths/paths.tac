-- tests/spec/paths/paths.tac: which file a relative path means
-- (vm/lua/paths.lua, docs/compat.md).  tests/integration/compat.sh copies
-- this directory to WS/sub/ and runs `test sub/paths.tac` from WS, as
-- Tactus's CI runs the example corpus from its root: File.* and
-- tactus.io.* are relative to the procedure's directory (sub/), and
-- Procedure.run looks in the working directory first, then beside the
-- procedure.  Every scenario is expected to PASS.
local csv = require("tactus.io.csv")
local json = require("tactus.io.json")
local file = require("tactus.io.file")
local util = require("lib.util")

Procedure {
  input = { mode = field.string { default = "io" } },
  function(input)
    if input.mode == "io" then
      local rows = csv.read("data/rows.csv")
      -- Writers make missing parent directories, as Tactus's do.
      csv.write("output/nested/rows.csv", rows)
      json.write("output/summary.json", { n = #rows })
      file.write("output/a/b/c.txt", "deep")
      File.write("more/notes.txt", "x")
      return {
        n = #rows, first = rows[1].name, back = #csv.read("output/nested/rows.csv"),
        summary = json.read("output/summary.json").n, deep = File.read("output/a/b/c.txt"),
        notes = File.exists("more/notes.txt"), dotted = File.exists("./data/rows.csv"),
        twice = util.twice(21),
      }
    elseif input.mode == "subs" then
      return {
        -- in the working directory and beside the procedure: the working
        -- directory's wins
        both = Procedure.run("helper.tac", {}).where,
        -- only beside the procedure
        beside = Procedure.run("beside.tac", {}).where,
      }
    elseif input.mode == "escape" then
      return File.read("../outside.txt")
    elseif input.mode == "absolute" then
      return File.read("/etc/hostname")
    end
  end,
}

Specification([[
Feature: Paths
  Scenario: File and tactus.io paths are relative to the procedure's directory
    When the procedure runs
    Then the procedure should complete successfully
    And the output n should be 3
    And the output first should be "ada"
    And the output back should be 3
    And the output summary should be 3
    And the output deep should be "deep"
    And the output notes should be true
    And the output dotted should be true
    And the output twice should be 42

  Scenario: Procedure.run looks in the working directory first
    Given the input mode is subs
    When the procedure runs
    Then the output both should be "working directory"
    And the output beside should be "procedure directory"

  Scenario: '..' is refused
    Given the input mode is escape
    When the procedure runs
    Then the procedure should fail with "'..' is not allowed: paths stay inside the procedure's directory"

  Scenario: absolute paths are refused
    Given the input mode is absolute
    When the procedure runs
    Then the procedure should fail with "absolute paths are not allowed"
]])
