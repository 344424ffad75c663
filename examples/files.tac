-- Files: File.read/write/exists/size and tactus.io.json / csv / tsv.  All
-- paths are relative to the workspace (the current directory, mounted at
-- /workspace in the sandbox); absolute paths, '..' and symlinks are refused.
-- Everything is written under a scratch directory that is removed at the
-- end, so running the example leaves nothing behind.
local json = require("tactus.io.json")
local csv = require("tactus.io.csv")
local tsv = require("tactus.io.tsv")

local DIR = "files-example.tmp"

Procedure {
  function(input)
    if File.exists(DIR) then                   -- left over from an interrupted run
      for _, name in ipairs(File.list(DIR)) do File.remove(DIR .. "/" .. name) end
    else
      File.mkdir(DIR)
    end

    File.write(DIR .. "/note.txt", "hello from the sandbox\n")
    local note = File.read(DIR .. "/note.txt")

    json.write(DIR .. "/config.json", { name = "demo", sizes = { 1, 2, 3 } })
    local cfg = json.read(DIR .. "/config.json")

    -- CSV quoting survives the round trip: commas, quotes and newlines.
    csv.write(DIR .. "/people.csv", {
      { name = "Ada Lovelace", note = 'said "hi", then left' },
      { name = "Alan Turing", note = "two\nlines" },
    })
    local people = csv.read(DIR .. "/people.csv")

    tsv.write(DIR .. "/scores.tsv", { { who = "ada", score = 3 }, { who = "alan", score = 5 } })
    local scores = tsv.read(DIR .. "/scores.tsv")

    -- Json: encode / decode in memory.
    local round = Json.decode(Json.encode({ ok = true, list = { "x", "y" } }))

    -- Confinement: these are refused with a clear error.
    local ok, outside = pcall(File.read, "/etc/passwd")

    local listing = File.list(DIR)
    local result = {
      note = note,
      note_size = File.size(DIR .. "/note.txt"),
      config = cfg,
      people = people,
      scores = scores,
      round_trip = round,
      files = listing,
      outside_refused = not ok,
      outside_error = tostring(outside), -- a FileError: { type, message }
    }

    for _, name in ipairs(listing) do File.remove(DIR .. "/" .. name) end
    File.remove(DIR)
    result.cleaned_up = not File.exists(DIR)
    return result
  end,
}

-- `tactus-run test examples/files.tac` (one scenario: the example writes
-- in the workspace, and scenarios may run at the same time).
Specification([[
Feature: Files
  Scenario: round trips, confinement and clean-up
    When the procedure runs
    Then the procedure should complete successfully
    And the output note should be "hello from the sandbox\n"
    And the output note_size should be 23
    And the output config.sizes should have 3 items
    And the output people.2.note should contain "two"
    And the output scores.1.score should be 3
    And the output round_trip.ok should be true
    And the output files should contain "people.csv"
    And the output outside_refused should be true
    And the output outside_error should contain "absolute paths are not allowed"
    And the output cleaned_up should be true
]])
