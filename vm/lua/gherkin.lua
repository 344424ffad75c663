-- Gherkin: Feature, Background, Scenario / Example, Scenario Outline /
-- Template with Examples / Scenarios tables, Rule (a heading only), steps
-- Given / When / Then / And / But / *, doc strings (""" or ```), data
-- tables, # comments; @tags are read and ignored.
--
--   gherkin.scenarios(texts) -> list, features
--     every scenario of every Specification text, outlines expanded, each
--     with its Background's steps in front; names are unique.  A text that
--     is not Gherkin raises {type = "SpecificationError"} naming the
--     Specification and the line.
local T = ...
local type, ipairs, error = type, ipairs, error
local sub, find, match, gmatch, gsub, lower = string.sub, string.find, string.match, string.gmatch,
  string.gsub, string.lower
local concat = table.concat

local function trim(s) return match(s, "^%s*(.-)%s*$") end


local HEADINGS = {
  ["feature"] = "feature", ["background"] = "background", ["scenario"] = "scenario",
  ["example"] = "scenario", ["scenario outline"] = "outline", ["scenario template"] = "outline",
  ["examples"] = "examples", ["scenarios"] = "examples", ["rule"] = "rule",
}
local STEP_WORDS = { given = "given", when = "when", ["then"] = "then", ["and"] = false, but = false, ["*"] = false }

local function parse_row(line)
  local cells = {}
  local body = match(line, "^|(.*)|%s*$")
  if not body then return nil end
  for cell in gmatch(body .. "|", "(.-)|") do cells[#cells + 1] = trim(cell) end
  return cells
end

-- FIRST: the file line of the text's first line, when known (steps and
-- errors then carry the file's lines); else lines count from the text.
local function parse_gherkin(text, spec_no, features, first, file)
  local lineno = first and first - 1 or 0
  local feature, current, last_step, kind
  local in_doc, doc_delim, doc_lines, doc_indent
  local function perr(msg)
    if first and file then
      error({ type = "SpecificationError", message = file .. ":" .. lineno .. ": Specification: " .. msg }, 0)
    end
    error({ type = "SpecificationError", message = "Specification " .. spec_no .. ", line " .. lineno .. ": " .. msg }, 0)
  end
  local function need_feature()
    if not feature then
      feature = { name = "(unnamed feature)", scenarios = {}, line = lineno }
      features[#features + 1] = feature
    end
  end
  local function close_block()
    current, last_step, kind = nil, nil, nil
  end
  text = gsub(text, "\r\n", "\n")
  for raw in gmatch(text .. "\n", "([^\n]*)\n") do
    lineno = lineno + 1
    local line = trim(raw)
    if in_doc then
      if line == doc_delim then
        last_step.doc = concat(doc_lines, "\n")
        in_doc = false
      else
        local strip = sub(raw, 1, doc_indent)
        if find(strip, "^%s*$") then raw = sub(raw, doc_indent + 1) else raw = gsub(raw, "^%s+", "") end
        doc_lines[#doc_lines + 1] = raw
      end
    elseif line == "" or sub(line, 1, 1) == "#" or sub(line, 1, 1) == "@" then
      -- blank, comment, tags
    elseif line == '"""' or line == "```" or find(line, '^"""') or find(line, "^```") then
      if not last_step then perr("a doc string must follow a step") end
      in_doc, doc_delim, doc_lines = true, sub(line, 1, 3), {}
      doc_indent = #match(raw, "^%s*")
    elseif sub(line, 1, 1) == "|" then
      local cells = parse_row(line)
      if not cells then perr("a table row must start and end with |") end
      if current and current.examples_open then
        local ex = current.examples[#current.examples]
        if ex.header == nil then ex.header = cells
        else
          if #cells ~= #ex.header then perr("this Examples row has " .. #cells .. " cells, the header " .. #ex.header) end
          ex.rows[#ex.rows + 1] = cells
        end
      elseif last_step then
        last_step.table = last_step.table or {}
        last_step.table[#last_step.table + 1] = cells
      else
        perr("a table must follow a step or Examples:")
      end
    else
      local head, rest = match(line, "^([%a][%a ]-)%s*:%s*(.*)$")
      local heading = head and HEADINGS[lower(head)]
      if heading == "feature" then
        close_block()
        feature = { name = rest ~= "" and rest or "(unnamed feature)", scenarios = {}, line = lineno }
        features[#features + 1] = feature
      elseif heading == "rule" then
        close_block()
        need_feature()
      elseif heading == "background" then
        need_feature()
        close_block()
        if feature.background then perr("a second Background in the same Feature") end
        current = { background = true, steps = {}, line = lineno }
        feature.background = current
      elseif heading == "scenario" or heading == "outline" then
        need_feature()
        close_block()
        if rest == "" then perr("a Scenario needs a name") end
        current = { name = rest, steps = {}, line = lineno, outline = heading == "outline",
                    examples = heading == "outline" and {} or nil }
        feature.scenarios[#feature.scenarios + 1] = current
      elseif heading == "examples" then
        if not (current and current.outline) then perr("Examples: outside a Scenario Outline") end
        current.examples[#current.examples + 1] = { header = nil, rows = {}, name = rest }
        current.examples_open = true
        last_step = nil
      else
        local word, step_text = match(line, "^(%S+)%s+(.+)$")
        local w = word and lower(word)
        if w ~= nil and STEP_WORDS[w] ~= nil then
          if not current then perr("a step outside a Scenario or Background: " .. line) end
          if current.examples_open then perr("a step after Examples: " .. line) end
          local k = STEP_WORDS[w] or kind or "given"
          kind = k
          last_step = { keyword = word, kind = k, text = trim(step_text), line = lineno }
          current.steps[#current.steps + 1] = last_step
        elseif current and (#current.steps > 0 or current.examples_open) then
          perr("expected a step (Given, When, Then, And, But), got: " .. line)
        elseif not current and not feature then
          perr("expected Feature:, Scenario: or a comment, got: " .. line)
        end
        -- else: a description line under a heading
      end
    end
  end
  if in_doc then perr("a doc string is not closed (" .. doc_delim .. ")") end
end

local function substitute(s, row, header)
  if s == nil then return nil end
  for i, h in ipairs(header) do
    s = gsub(s, "<" .. gsub(h, "%p", "%%%0") .. ">", (gsub(row[i], "%%", "%%%%")))
  end
  return s
end

local function copy_step(step, row, header)
  local c = { keyword = step.keyword, kind = step.kind, line = step.line, background = step.background }
  c.text = header and substitute(step.text, row, header) or step.text
  c.doc = header and substitute(step.doc, row, header) or step.doc
  if step.table then
    c.table = {}
    for i, r in ipairs(step.table) do
      c.table[i] = {}
      for j, cell in ipairs(r) do c.table[i][j] = header and substitute(cell, row, header) or cell end
    end
  end
  return c
end

-- All scenarios of all Specification texts, outlines expanded, each with
-- its Background steps in front.  Names are unique.
-- LINES, FILE (optional): each text's first line in FILE.
local function collect_scenarios(texts, lines, file)
  local features = {}
  for i, text in ipairs(texts) do
    if type(text) ~= "string" then
      error({ type = "SpecificationError", message = "Specification " .. i .. " is not a string" }, 0)
    end
    parse_gherkin(text, i, features, lines and lines[i], file)
  end
  local list, seen = {}, {}
  local function add(feature, name, outline, steps, line)
    local base, k = name, 1
    while seen[name] do
      k = k + 1
      name = base .. " (" .. k .. ")"
    end
    seen[name] = true
    list[#list + 1] = { name = name, feature = feature.name, outline = outline, steps = steps, line = line }
  end
  for _, feature in ipairs(features) do
    local bg = {}
    if feature.background then
      for _, s in ipairs(feature.background.steps) do
        local c = copy_step(s)
        c.background = true
        bg[#bg + 1] = c
      end
    end
    for _, sc in ipairs(feature.scenarios) do
      if sc.outline then
        local n = 0
        for _, ex in ipairs(sc.examples) do
          for _, row in ipairs(ex.rows) do
            n = n + 1
            local steps = {}
            for _, s in ipairs(bg) do steps[#steps + 1] = copy_step(s) end
            for _, s in ipairs(sc.steps) do steps[#steps + 1] = copy_step(s, row, ex.header) end
            add(feature, substitute(sc.name, row, ex.header) .. " (example " .. n .. ")", sc.name, steps, sc.line)
          end
        end
      else
        local steps = {}
        for _, s in ipairs(bg) do steps[#steps + 1] = copy_step(s) end
        for _, s in ipairs(sc.steps) do steps[#steps + 1] = copy_step(s) end
        add(feature, sc.name, nil, steps, sc.line)
      end
    end
  end
  return list, features
end


return { scenarios = collect_scenarios }
