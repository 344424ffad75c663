-- The step library's registry and its Given and When steps.  Called with
-- the spec session S; S.step(template, patterns, fn) adds a built-in step
-- (tried in the order added; the first pattern matching the whole step
-- text wins; fn(step, captures...)).  The Then steps are in checks.lua.
-- The vocabulary is listed in docs/testing.md.
local S = ...
local ctx, T, lib, W = S.ctx, S.T, S.lib, S.W
local type, pairs, ipairs, tostring, pcall = type, pairs, ipairs, tostring, pcall
local lower = string.lower
local value = lib("value")
local NIL, fail, trim, unquote, parse_value = value.NIL, value.fail, value.trim, value.unquote,
  value.parse_value
local set_param, set_mock, agent_entry = S.set_param, S.set_mock, S.agent_entry

S.BUILTIN = {}
function S.step(template, patterns, fn)
  if type(patterns) == "string" then patterns = { patterns } end
  S.BUILTIN[#S.BUILTIN + 1] = { template = template, patterns = patterns, fn = fn }
end
local step = S.step

S.K = "([%w_][%w_%.]*)"          -- a key or a dotted path: a.b.1
S.TOOL = '"?([%w_][%w_%.%-]*)"?' -- a tool name, optionally quoted
local K = S.K

-- A step's value, or its doc string when the value is empty (or ":").
function S.doc_or(s, v)
  if (v == nil or trim(v) == "" or trim(v) == ":") and s.doc then return s.doc, true end
  return v, false
end
local doc_or = S.doc_or

-- An input as text (typed by the schema, as --param is) and as the value
-- the step spells.
local function input(k, text)
  local typed = parse_value(text)
  local raw = unquote(text)
  if type(typed) == "table" and typed ~= NIL then raw = value.json(typed) end
  set_param(k, raw, typed)
end

-- A structured value (JSON or a Python literal, quoted or not), or fail.
local function structured(text, what)
  local v, why = value.parse_structured(text)
  if type(v) ~= "table" then
    fail(what .. " are not a JSON object or a Python dict: " .. text .. (why and (" (" .. why .. ")") or ""))
  end
  return v
end

-- Givens ------------------------------------------------------------------
step("the procedure has started", { "^the procedure has started$", "^the procedure is ready$" }, function() end)

step("the input <name> is <value>", { "^the input " .. K .. " is%s*(.*)$", "^the " .. K .. " input is%s*(.*)$" },
  function(s, k, v)
    local text, from_doc = doc_or(s, v)
    if from_doc then set_param(k, text, parse_value(text)) return end
    if trim(text) == "" then fail("the input " .. k .. ": no value given") end
    input(k, text)
  end)

step("the inputs are: (a table of | name | value | rows, or a JSON object doc string)",
  { "^the inputs? are:?$", "^the input is:?$" },
  function(s)
    if s.table then
      for i, row in ipairs(s.table) do
        local first = lower(row[1] or "")
        if not (i == 1 and (first == "name" or first == "key")) then input(row[1], row[2] or "") end
      end
    elseif s.doc then
      local ok, v = pcall(T.json_decode, s.doc)
      if not ok or type(v) ~= "table" then fail("the inputs: the doc string is not a JSON object") end
      for k, x in pairs(v) do set_param(k, type(x) == "table" and value.json(x) or tostring(x), x) end
    else
      fail("the inputs: give a table (| name | value |) or a JSON doc string")
    end
  end)

step('the message is "<text>"', "^the message is%s*(.*)$", function(s, v)
  local text = doc_or(s, v)
  set_param("message", (unquote(text)), (unquote(text)))
end)

step("the state <key> is <value>", "^the state " .. K .. " is%s+(.+)$", function(_, k, v)
  S.setup_allowed("the state " .. k)
  local ev = parse_value(v)
  if ev == NIL then ev = nil end
  ctx.state[k] = ev
end)

step('the agent "<agent>" responds with "<text>"', '^the agent "([^"]+)" responds with%s*(.*)$', function(s, a, v)
  local text = doc_or(s, v)
  local list = W.agent_entries[a]
  local last = list and list[#list]
  local e = agent_entry(a, not (last and last.message == nil))
  e.message = (unquote(text))
end)

-- Arguments in JSON or as a Python dict, as Tactus reads them
-- (ast.literal_eval), quoted or not: {"a": 1}, {'a': 1}, "{'a': 1}".
step('the agent "<agent>" calls tool "<tool>" with args {json}',
  { '^the agent "([^"]+)" calls tool "([^"]+)" with args%s*(.*)$', '^the agent "([^"]+)" calls tool "([^"]+)"$' },
  function(s, a, t, v)
    local text = doc_or(s, v)
    local args = {}
    if text and trim(text) ~= "" then args = structured(trim(text), "the tool arguments") end
    local e = agent_entry(a, false)
    e.tool_calls[#e.tool_calls + 1] = { tool = t, args = args }
  end)

-- The structured output of the agent's current scripted turn.
step('the agent "<agent>" returns data {json}', '^the agent "([^"]+)" returns data%s*(.*)$', function(s, a, v)
  local text = doc_or(s, v)
  local e = agent_entry(a, false)
  e.data = structured(trim(text), "the data")
end)

step('the tool "<tool>" returns <value>', { '^the tool "([^"]+)" returns%s*(.*)$' }, function(s, t, v)
  local text = doc_or(s, v)
  local ev = parse_value(text)
  if ev == NIL then ev = nil end
  set_mock(t, { returns = ev })
end)

step('the model "<model>" returns <value>', { '^the model "([^"]+)" returns%s*(.*)$' }, function(s, m, v)
  local ev = parse_value((doc_or(s, v)))
  if ev == NIL then ev = nil end
  set_mock(m, { returns = ev })
end)

step("Human.approve will return true", "^Human%.(%a+) will return%s+(.+)$", function(_, kind, v)
  local k = S.HUMAN_KINDS[kind]
  if not k then fail("Human." .. kind .. " is not a Human request (approve, input, review, escalate)") end
  local ev = parse_value(v)
  if k == "input" then ev = (unquote(v)) end
  if k == "review" and type(ev) == "string" then ev = { decision = ev } end
  W.human[k] = ev
end)

step('when asked "<message>" return <value>', '^when asked "([^"]+)" return%s+(.+)$', function(_, prefix, v)
  W.human_by_message[#W.human_by_message + 1] = { prefix = prefix, value = parse_value(v) }
end)

step("the user presses yes|no", "^the user presses (%a+)$", function(_, v)
  local l = lower(v)
  if l ~= "yes" and l ~= "no" then fail("the user presses yes or no, not " .. v) end
  W.human.approval = l == "yes"
end)

step("the user enters '<text>'", "^the user enters%s+(.+)$", function(_, v)
  W.human.input = (unquote(v))
end)

step("the <dependency> returns '<json>'", "^the ([%w_][%w_%.%-]*) returns%s+'(.*)'$", function(_, name, v)
  local ev = parse_value(v)
  if ev == NIL then ev = nil end
  set_mock(name, { returns = ev })
end)

-- Whens -----------------------------------------------------------------------
step("the procedure runs", { "^the procedure runs?$", "^the procedure runs? with .+$", "^the procedure is run$",
    "^the procedure executes$" }, function() S.run_procedure() end)
step("the <agent> agent takes turns", { "^the ([%w_]+) agent takes turns?$", '^the agent "([^"]+)" takes turns?$' },
  function() S.run_procedure() end)
step("the <model> model predicts", "^the ([%w_]+) model predicts$", function() S.run_procedure() end)
