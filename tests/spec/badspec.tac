-- tests/spec/badspec.tac: Gherkin that cannot be parsed: `tactus-run test`
-- names the file's line, and exits 1.
Procedure { function() return { ok = true } end }

Specification([[
Feature: Bad
  Scenario: a table in the wrong place
    When the procedure runs
    This line is not a step
]])
