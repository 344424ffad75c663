-- The Then steps: what a scenario expects of the run -- completion, the
-- output, the state, tool calls, iterations, agent turns, the stop reason,
-- stages, Human requests, logs.  Called with the spec session S after
-- steps.lua (the order of S.step calls is the order steps are tried).
local S = ...
local ctx, T, G, lib, W = S.ctx, S.T, S.G, S.lib, S.W
local type, pairs, ipairs, tostring, tonumber, pcall = type, pairs, ipairs, tostring, tonumber, pcall
local sub, find, match, gsub, format = string.sub, string.find, string.match, string.gsub, string.format
local concat, sort = table.concat, table.sort
local value, similarity, regex = lib("value"), lib("similarity"), lib("regex")
local NIL, fail, trim, unquote, parse_value, show, as_text, get_path, loose_equal =
  value.NIL, value.fail, value.trim, value.unquote, value.parse_value, value.show, value.as_text,
  value.get_path, value.loose_equal
local regex_search = regex.search
local step, K, TOOL = S.step, S.K, S.TOOL
local need_run, need_output = S.need_run, S.need_output

local function tool_call_list(name)
  local list = {}
  local h = ctx.tools[name]
  if h then for _, c in ipairs(h.calls()) do list[#list + 1] = c end end
  for _, c in ipairs(W.host_calls) do if c.name == name then list[#list + 1] = c end end
  return list, h ~= nil
end

local function describe_calls(list)
  local parts = {}
  for i, c in ipairs(list) do
    if i > 3 then parts[#parts + 1] = "..." break end
    parts[#parts + 1] = show(c.args)
  end
  return concat(parts, ", ")
end

local function not_called_hint(name, declared)
  if declared or #W.host_calls > 0 then return "" end
  local names = {}
  for k in pairs(ctx.tools) do names[#names + 1] = k end
  sort(names)
  if #names == 0 then return " (the file declares no tools)" end
  return " (no tool named " .. name .. " is declared; the tools are: " .. concat(names, ", ") .. ")"
end

-- "a=1, b=\"x\" and c=true" -> { {key, value} }
local function parse_args_spec(s)
  local out, i = {}, 1
  s = trim(s)
  while i <= #s do
    local key, j = match(s, "^%s*([%w_%.]+)%s*=%s*()", i)
    if not key then fail("cannot read the arguments '" .. s .. "': expected key=value") end
    local c = sub(s, j, j)
    local raw, after
    if c == '"' or c == "'" then
      local close = find(s, c, j + 1, true)
      if not close then fail("unterminated quote in '" .. s .. "'") end
      raw, after = sub(s, j, close), close + 1
    else
      local stop = find(s, ",", j, true)
      local a = find(s, " and ", j, true)
      if a and (not stop or a < stop) then stop = a end
      raw = sub(s, j, (stop or #s + 1) - 1)
      after = stop or #s + 1
    end
    out[#out + 1] = { key = key, value = parse_value(raw), raw = trim(raw) }
    i = match(s, "^%s*,?%s*()", after)
    if sub(s, i, i + 3) == "and " then i = i + 4 end
  end
  return out
end

local function count_check(name, want, how)
  local list, declared = tool_call_list(name)
  local n = #list
  local times = function(x) return x .. (x == 1 and " time" or " times") end
  if how == "exactly" and n ~= want then
    fail("the " .. name .. " tool was called " .. times(n) .. ", expected exactly " .. times(want)
      .. (n == 0 and not_called_hint(name, declared) or ""))
  elseif how == "at least" and n < want then
    fail("the " .. name .. " tool was called " .. times(n) .. ", expected at least " .. times(want)
      .. (n == 0 and not_called_hint(name, declared) or ""))
  elseif how == "at most" and n > want then
    fail("the " .. name .. " tool was called " .. times(n) .. ", expected at most " .. times(want))
  end
end


-- "the output should fuzzy match ...", as Tactus checks it: both texts
-- lower-cased, without punctuation, spaces collapsed; one inside the other
-- scores 1.0, else difflib's ratio.  REST: "text" or any of ["a", "b"]
-- (a JSON or Python list, or comma-separated texts), then optionally
-- "with threshold 0.8" (a fraction; 80% and 80 are read as 0.8 too).
local function fuzzy_check(what, actual, rest)
  local threshold = 0.8
  local body, th = match(rest, "^(.-)%s+with threshold%s+([%d%.]+%%?)%s*$")
  if body then
    rest = body
    local pct = sub(th, -1) == "%"
    threshold = tonumber((gsub(th, "%%", "")))
    if threshold == nil then fail("bad threshold '" .. th .. "'") end
    if pct or threshold > 1 then threshold = threshold / 100 end
  end
  local candidates
  local text_rest = unquote(rest)
  local list = match(text_rest, "^[Aa][Nn][Yy] [Oo][Ff]%s+(.+)$")
  if list then
    local v = value.parse_structured(trim(list))
    if type(v) == "table" then
      candidates = {}
      for i, c in ipairs(v) do candidates[i] = as_text(c) end
    else
      candidates = {}
      for part in (list .. ","):gmatch("([^,]*),") do
        if trim(part) ~= "" then candidates[#candidates + 1] = (unquote(part)) end
      end
    end
  else
    candidates = { text_rest }
  end
  if actual == nil then fail(what .. " is missing") end
  if type(actual) == "table" then
    local only
    for _, v in pairs(actual) do
      if type(v) == "string" then
        if only ~= nil then only = false break end
        only = v
      end
    end
    if not only then
      fail(what .. " is a table; name a field, e.g. the output <field> should fuzzy match \"...\"")
    end
    actual = only
  end
  local text = as_text(actual)
  local best, best_c = -1, nil
  for _, c in ipairs(candidates) do
    local r = similarity.fuzzy_match(text, as_text(c))
    if r > best then best, best_c = r, c end
  end
  if best_c == nil then fail("expected at least one text after 'any of', got " .. tostring(list)) end
  if best < threshold then
    if list then
      fail(format("%s is %s, not %.0f%% similar to any of %d texts; the closest is %s, %.0f%% similar",
        what, show(actual), threshold * 100, #candidates, show(best_c), best * 100))
    end
    fail(format("%s is %s, %.0f%% similar to %s; expected at least %.0f%%", what, show(actual), best * 100,
      show(best_c), threshold * 100))
  end
end

local function value_checks(subject, get)
  -- Steps shared by "the output <k> ..." and "the state <k> ...".
  return {
    ["should not be"] = function(k, v)
      local actual = get(k)
      local ev = parse_value(v)
      if loose_equal(actual, ev) then fail(subject .. " " .. k .. " should not be " .. show(ev) .. ", but it is") end
    end,
    ["should be"] = function(k, v)
      local actual = get(k)
      local ev = parse_value(v)
      if not loose_equal(actual, ev) then
        fail("expected " .. subject .. " " .. k .. " to be " .. show(ev) .. ", got " .. show(actual))
      end
    end,
    ["should exist"] = function(k)
      if get(k) == nil then fail(subject .. " " .. k .. " does not exist") end
    end,
    ["should not exist"] = function(k)
      local actual = get(k)
      if actual ~= nil then fail(subject .. " " .. k .. " exists (it is " .. show(actual) .. ")") end
    end,
    ["should contain"] = function(k, v, negate)
      local actual = get(k)
      local ev = parse_value(v)
      local found = false
      if type(actual) == "string" then
        found = find(actual, ev == NIL and "nil" or as_text(ev), 1, true) ~= nil
      elseif type(actual) == "table" then
        for _, x in ipairs(actual) do if loose_equal(x, ev) then found = true break end end
        if not found and type(ev) == "string" and actual[ev] ~= nil then found = true end
      end
      if negate and found then fail(subject .. " " .. k .. " contains " .. show(ev) .. ": " .. show(actual)) end
      if not negate and not found then
        fail("expected " .. subject .. " " .. k .. " to contain " .. show(ev) .. ", got " .. show(actual))
      end
    end,
    ["should match pattern"] = function(k, p, negate)
      local actual = as_text(get(k))
      local hit = regex_search(p, actual)
      if negate and hit then fail(subject .. " " .. k .. " " .. show(actual) .. " matches pattern \"" .. p .. "\"") end
      if not negate and not hit then
        fail(subject .. " " .. k .. " " .. show(actual) .. " does not match pattern \"" .. p .. "\"")
      end
    end,
    ["should match lua pattern"] = function(k, p)
      local actual = as_text(get(k))
      local ok, hit = pcall(find, actual, p)
      if not ok then fail("bad Lua pattern \"" .. p .. "\": " .. T.error_text(hit)) end
      if not hit then fail(subject .. " " .. k .. " " .. show(actual) .. " does not match Lua pattern \"" .. p .. "\"") end
    end,
    ["compare"] = function(k, op, v)
      local actual = get(k)
      local a = tonumber(actual)
      local b = tonumber(parse_value(v))
      if b == nil then fail("'" .. v .. "' is not a number") end
      if a == nil then fail(subject .. " " .. k .. " is " .. show(actual) .. ", not a number") end
      local okc = (op == "greater than" and a > b) or (op == "less than" and a < b)
        or (op == "at least" and a >= b) or (op == "at most" and a <= b)
      if not okc then fail("expected " .. subject .. " " .. k .. " to be " .. op .. " " .. v .. ", got " .. show(actual)) end
    end,
    ["should have items"] = function(k, count)
      local actual = get(k)
      if type(actual) ~= "table" then fail(subject .. " " .. k .. " is " .. show(actual) .. ", not a list") end
      local n = 0
      for _ in pairs(actual) do n = n + 1 end
      if n ~= tonumber(count) then fail(subject .. " " .. k .. " has " .. n .. " items, expected " .. count) end
    end,
    -- "should be similar to": rapidfuzz's ratio of the texts as they are
    -- (Tactus: fuzz.ratio, no normalization), N% at least (default 80).
    ["similar"] = function(k, text, pct)
      local threshold = tonumber(pct) or 80
      local actual = as_text(get(k))
      local r = similarity.ratio(actual, text)
      if r < threshold then
        fail(format("%s %s is %s, %.0f%% similar to %s; expected at least %d%%", subject, k, show(actual), r,
          show(text), threshold))
      end
    end,
  }
end

local function output_get(k)
  local out = need_output()
  if type(out) ~= "table" then
    fail("the output is " .. show(out) .. ", not a table with a field " .. k)
  end
  return get_path(out, k)
end
local function state_get(k)
  need_run()
  return get_path(ctx.state, k)
end
local OUT = value_checks("output", output_get)
local STATE = value_checks("state", state_get)

-- Thens: completion -----------------------------------------------------------
step("the procedure should complete successfully",
  { "^the procedure should complete successfully$", "^the procedure should succeed$",
    "^the procedure should complete$" },
  function()
    need_run()
    if not W.ok then fail("the procedure failed: " .. tostring(W.err_text)) end
  end)

step('the procedure should fail [with "<text>"]', { "^the procedure should fail$", "^the procedure should fail with%s+(.+)$" },
  function(_, v)
    need_run()
    if W.ok then fail("the procedure completed successfully, but it should have failed (result: " .. show(W.result) .. ")") end
    if v then
      local want = as_text(parse_value(v))
      if not find(W.err_text or "", want, 1, true) then
        fail("the procedure failed with " .. show(W.err_text) .. ", which does not contain " .. show(want))
      end
    end
  end)

step('the error should contain "<text>"', "^the error should contain%s+(.+)$", function(_, v)
  need_run()
  if W.ok then fail("the procedure did not fail, so there is no error") end
  local want = as_text(parse_value(v))
  if not find(W.err_text or "", want, 1, true) then
    fail("the error " .. show(W.err_text) .. " does not contain " .. show(want))
  end
end)

-- Thens: output ------------------------------------------------------------------
step('the output <key> should be similar to "<text>" [with N% similarity]',
  { "^the output " .. K .. ' should be similar to "(.*)" with (%d+)%% similarity$',
    "^the output " .. K .. ' should be similar to "(.*)"$' },
  function(_, k, text, pct) OUT.similar(k, text, pct) end)
step('the output <key> should fuzzy match "<text>" [with threshold 0.8]',
  "^the output " .. K .. " should fuzzy match%s+(.+)$",
  function(_, k, rest) fuzzy_check("the output " .. k, output_get(k), rest) end)
step('the output should fuzzy match "<text>" [with threshold 0.8] (or: any of ["a", "b"])',
  "^the output should fuzzy match%s+(.+)$",
  function(_, rest) fuzzy_check("the output", need_output(), rest) end)
step('the output <key> should match pattern "<regex>"', "^the output " .. K .. ' should match pattern "(.*)"$',
  function(_, k, p) OUT["should match pattern"](k, p) end)
step('the output <key> should not match pattern "<regex>"', "^the output " .. K .. ' should not match pattern "(.*)"$',
  function(_, k, p) OUT["should match pattern"](k, p, true) end)
step('the output <key> should match lua pattern "<pattern>"', "^the output " .. K .. ' should match lua pattern "(.*)"$',
  function(_, k, p) OUT["should match lua pattern"](k, p) end)
step("the output <key> should be greater than|less than|at least|at most <number>",
  "^the output " .. K .. " should be (%a+ ?%a*) (%-?[%d%.]+)$",
  function(_, k, op, v)
    if op ~= "greater than" and op ~= "less than" and op ~= "at least" and op ~= "at most" then
      return OUT["should be"](k, op .. " " .. v)
    end
    OUT.compare(k, op, v)
  end)
step("the output <key> should not be <value>", "^the output " .. K .. " should not be%s+(.+)$",
  function(_, k, v) OUT["should not be"](k, v) end)
step("the output <key> should exist", "^the output " .. K .. " should exist$", function(_, k) OUT["should exist"](k) end)
step("the output <key> should not exist", "^the output " .. K .. " should not exist$",
  function(_, k) OUT["should not exist"](k) end)
step("the output <key> should not contain <value>", "^the output " .. K .. " should not contain%s+(.+)$",
  function(_, k, v) OUT["should contain"](k, v, true) end)
step("the output <key> should contain <value>", "^the output " .. K .. " should contain%s+(.+)$",
  function(_, k, v) OUT["should contain"](k, v) end)
step("the output <key> should have <n> items", "^the output " .. K .. " should have (%d+) items?$",
  function(_, k, n) OUT["should have items"](k, n) end)
step("the output <key> should be <value>", "^the output " .. K .. " should be%s+(.+)$",
  function(_, k, v) OUT["should be"](k, v) end)
step("the output should contain <key or text>", "^the output should contain%s+(.+)$", function(_, v)
  local out = need_output()
  local ev = parse_value(v)
  if type(out) == "table" then
    if type(ev) == "string" and out[ev] ~= nil then return end
    for _, x in ipairs(out) do if loose_equal(x, ev) then return end end
    fail("the output has no field " .. show(ev) .. ": " .. show(out))
  end
  if not find(as_text(out), as_text(ev), 1, true) then
    fail("expected the output to contain " .. show(ev) .. ", got " .. show(out))
  end
end)
step("the output should be <value>", "^the output should be%s+(.+)$", function(_, v)
  local out = need_output()
  local ev = parse_value(v)
  if not loose_equal(out, ev) then fail("expected the output to be " .. show(ev) .. ", got " .. show(out)) end
end)
step("the output should exist", "^the output should exist$", function()
  if need_output() == nil then fail("the procedure returned nothing") end
end)

-- Thens: state ---------------------------------------------------------------------
step('the state <key> should be similar to "<text>" [with N% similarity]',
  { "^the state " .. K .. ' should be similar to "(.*)" with (%d+)%% similarity$',
    "^the state " .. K .. ' should be similar to "(.*)"$' },
  function(_, k, text, pct) STATE.similar(k, text, pct) end)
step('the state <key> should match pattern "<regex>"', "^the state " .. K .. ' should match pattern "(.*)"$',
  function(_, k, p) STATE["should match pattern"](k, p) end)
step("the state <key> should be greater than|less than|at least|at most <number>",
  "^the state " .. K .. " should be (%a+ ?%a*) (%-?[%d%.]+)$",
  function(_, k, op, v)
    if op ~= "greater than" and op ~= "less than" and op ~= "at least" and op ~= "at most" then
      return STATE["should be"](k, op .. " " .. v)
    end
    STATE.compare(k, op, v)
  end)
step("the state <key> should not be <value>", "^the state " .. K .. " should not be%s+(.+)$",
  function(_, k, v) STATE["should not be"](k, v) end)
step("the state <key> should exist", "^the state " .. K .. " should exist$", function(_, k) STATE["should exist"](k) end)
step("the state <key> should not exist", "^the state " .. K .. " should not exist$",
  function(_, k) STATE["should not exist"](k) end)
step("the state <key> should contain <value>", "^the state " .. K .. " should contain%s+(.+)$",
  function(_, k, v) STATE["should contain"](k, v) end)
step("the state <key> should have <n> items", "^the state " .. K .. " should have (%d+) items?$",
  function(_, k, n) STATE["should have items"](k, n) end)
step("the state <key> should be <value>", "^the state " .. K .. " should be%s+(.+)$",
  function(_, k, v) STATE["should be"](k, v) end)
step("the state should contain <key>", "^the state should contain%s+" .. K .. "$", function(_, k)
  STATE["should exist"](k)
end)

-- Thens: tools -----------------------------------------------------------------------
step("the <tool> tool should not be called", "^the " .. TOOL .. " tool should not be called$", function(_, t)
  need_run()
  local list = tool_call_list(t)
  if #list > 0 then fail("the " .. t .. " tool was called " .. #list .. " time(s): " .. describe_calls(list)) end
end)
-- A count of the calls that had all these arguments.
step('the <tool> tool should be called exactly|at least|at most <n> time(s) with <arg>="<value>" [and ...]',
  "^the " .. TOOL .. " tool should be called (%a+ ?%a*) (%d+) times? with%s+(.+)$",
  function(_, t, how, n, spec)
    if how ~= "exactly" and how ~= "at least" and how ~= "at most" then
      fail("expected exactly, at least or at most before the count, got '" .. how .. "'")
    end
    need_run()
    local want = parse_args_spec(spec)
    local list, declared = tool_call_list(t)
    local hits = 0
    for _, c in ipairs(list) do
      local all = true
      for _, w in ipairs(want) do
        if not loose_equal(get_path(c.args, w.key), w.value) then all = false break end
      end
      if all then hits = hits + 1 end
    end
    local want_n = tonumber(n)
    if (how == "exactly" and hits == want_n) or (how == "at least" and hits >= want_n)
      or (how == "at most" and hits <= want_n) then
      return
    end
    local times = function(x) return x .. (x == 1 and " time" or " times") end
    local calls = #list == 0 and ("it was not called" .. not_called_hint(t, declared))
      or ("all its calls: " .. describe_calls(list))
    fail("the " .. t .. " tool was called " .. times(hits) .. " with " .. spec .. ", expected " .. how .. " "
      .. times(want_n) .. " (" .. calls .. ")")
  end)
step("the <tool> tool should be called exactly <n> time(s)",
  "^the " .. TOOL .. " tool should be called exactly (%d+) times?$",
  function(_, t, n) need_run() count_check(t, tonumber(n), "exactly") end)
step("the <tool> tool should be called at least <n> time(s)",
  "^the " .. TOOL .. " tool should be called at least (%d+) times?$",
  function(_, t, n) need_run() count_check(t, tonumber(n), "at least") end)
step("the <tool> tool should be called at most <n> time(s)",
  "^the " .. TOOL .. " tool should be called at most (%d+) times?$",
  function(_, t, n) need_run() count_check(t, tonumber(n), "at most") end)
step('the <tool> tool should be called with <arg> matching pattern "<regex>"',
  "^the " .. TOOL .. ' tool should be called with ([%w_%.]+) matching pattern "(.*)"$',
  function(_, t, key, p)
    need_run()
    local list, declared = tool_call_list(t)
    if #list == 0 then fail("the " .. t .. " tool was not called" .. not_called_hint(t, declared)) end
    for _, c in ipairs(list) do
      local v = get_path(c.args, key)
      if v ~= nil and regex_search(p, as_text(v)) then return end
    end
    fail("the " .. t .. " tool was called " .. #list .. " time(s), never with " .. key .. " matching \"" .. p
      .. "\" (arguments: " .. describe_calls(list) .. ")")
  end)
step('the <tool> tool should be called with <arg>="<value>" [and <arg>=<value>...]',
  "^the " .. TOOL .. " tool should be called with%s+(.+)$",
  function(_, t, spec)
    need_run()
    local want = parse_args_spec(spec)
    local list, declared = tool_call_list(t)
    if #list == 0 then fail("the " .. t .. " tool was not called" .. not_called_hint(t, declared)) end
    for _, c in ipairs(list) do
      local all = true
      for _, w in ipairs(want) do
        if not loose_equal(get_path(c.args, w.key), w.value) then all = false break end
      end
      if all then return end
    end
    fail("the " .. t .. " tool was called " .. #list .. " time(s), never with " .. spec .. " (arguments: "
      .. describe_calls(list) .. ")")
  end)
step("the <tool> tool should be called", { "^the " .. TOOL .. " tool should be called$",
    "^the " .. TOOL .. " tool should have been called$" },
  function(_, t)
    need_run()
    local list, declared = tool_call_list(t)
    if #list == 0 then fail("the " .. t .. " tool was not called" .. not_called_hint(t, declared)) end
  end)
step("the <dependency> should have been called [<n> times]",
  { "^the ([%w_][%w_%.%-]*) should have been called$", "^the ([%w_][%w_%.%-]*) should have been called (%d+) times?$" },
  function(_, t, n)
    need_run()
    if n then count_check(t, tonumber(n), "exactly") return end
    local list, declared = tool_call_list(t)
    if #list == 0 then fail("the " .. t .. " was not called" .. not_called_hint(t, declared)) end
  end)
step("the <dependency> should not have been called", "^the ([%w_][%w_%.%-]*) should not have been called$",
  function(_, t)
    need_run()
    local list = tool_call_list(t)
    if #list > 0 then fail("the " .. t .. " was called " .. #list .. " time(s)") end
  end)

-- Thens: iterations, agents, stop, stage, humans, logs ---------------------------------
step("the total iterations should be less than <n>", "^the total iterations should be less than (%d+)$", function(_, n)
  need_run()
  if not (ctx.iterations < tonumber(n)) then
    fail("the total iterations are " .. ctx.iterations .. ", expected less than " .. n)
  end
end)
step("the total iterations should be between <a> and <b>", "^the total iterations should be between (%d+) and (%d+)$",
  function(_, a, b)
    need_run()
    if ctx.iterations < tonumber(a) or ctx.iterations > tonumber(b) then
      fail("the total iterations are " .. ctx.iterations .. ", expected between " .. a .. " and " .. b)
    end
  end)
step("the total iterations should be <n>", "^the total iterations should be (%d+)$", function(_, n)
  need_run()
  if ctx.iterations ~= tonumber(n) then fail("the total iterations are " .. ctx.iterations .. ", expected " .. n) end
end)
step("the <agent> agent should take at least <n> turn(s)",
  { "^the ([%w_]+) agent should take at least (%d+) turns?$", "^the agent should take at least (%d+) turns?$" },
  function(_, a, n)
    need_run()
    local turns
    if n == nil then
      n, turns = a, 0
      for _, c in pairs(W.agent_turns) do turns = turns + c end
    else
      turns = W.agent_turns[a] or 0
    end
    if turns < tonumber(n) then
      fail((n and a ~= n and ("the " .. a .. " agent") or "the agents") .. " took " .. turns
        .. " turn(s), expected at least " .. n)
    end
  end)
step("the <agent> agent should take <n> turn(s)", "^the ([%w_]+) agent should take (%d+) turns?$", function(_, a, n)
  need_run()
  local turns = W.agent_turns[a] or 0
  if turns ~= tonumber(n) then fail("the " .. a .. " agent took " .. turns .. " turn(s), expected " .. n) end
end)
step("the stop reason should be <text>", "^the stop reason should be%s+(.+)$", function(_, v)
  need_run()
  local r = G.Stop.reason()
  local want = as_text(parse_value(v))
  if r ~= want then fail("the stop reason is " .. show(r) .. ", expected " .. show(want)) end
end)
step("the stop reason should contain <text>", "^the stop reason should contain%s+(.+)$", function(_, v)
  need_run()
  local r = G.Stop.reason()
  local want = as_text(parse_value(v))
  if not find(as_text(r), want, 1, true) then fail("the stop reason " .. show(r) .. " does not contain " .. show(want)) end
end)
step('the stop reason should match pattern "<regex>"', '^the stop reason should match pattern "(.*)"$', function(_, p)
  need_run()
  local r = as_text(G.Stop.reason())
  if not regex_search(p, r) then fail("the stop reason " .. show(r) .. " does not match pattern \"" .. p .. "\"") end
end)
-- Stage.set calls of the run, in order: one of them went from X to Y.
step("the stage should transition from <stage> to <stage>",
  "^the stage should transition from%s+(.-)%s+to%s+(.+)$", function(_, a, b)
    need_run()
    local from, to = as_text(parse_value(a)), as_text(parse_value(b))
    local seen = {}
    for i = 2, #W.stages do
      if W.stages[i - 1] == from and W.stages[i] == to then return end
      seen[#seen + 1] = tostring(W.stages[i - 1]) .. " -> " .. tostring(W.stages[i])
    end
    fail("the stage never went from " .. show(from) .. " to " .. show(to) .. "; "
      .. (#seen > 0 and ("its transitions: " .. concat(seen, ", ", 1, #seen > 10 and 10 or #seen))
        or ("the stages set: " .. (#W.stages > 0 and concat(W.stages, ", ") or "none"))))
  end)
step("the stage should be <stage>", { "^the stage should be%s+(.+)$", "^the stage is%s+(.+)$",
    "^we are in stage%s+(.+)$" }, function(_, v)
  need_run()
  local cur = G.Stage.current()
  local want = as_text(parse_value(v))
  if cur ~= want then fail("the stage is " .. show(cur) .. ", expected " .. show(want)) end
end)
step("Human.<approve|input|review|escalate> should be called",
  { "^Human%.(%a+) should be called$", "^Human%.(%a+) should have been called$" }, function(_, kind)
    need_run()
    local k = S.HUMAN_KINDS[kind] or kind
    for _, c in ipairs(W.human_calls) do if c.kind == k then return end end
    fail("Human." .. kind .. " was not called")
  end)
step("Human.<approve|input|review|escalate> should not be called",
  { "^Human%.(%a+) should not be called$", "^Human%.(%a+) should not have been called$" }, function(_, kind)
    need_run()
    local k = S.HUMAN_KINDS[kind] or kind
    for _, c in ipairs(W.human_calls) do
      if c.kind == k then fail("Human." .. kind .. " was called: " .. show(c.message)) end
    end
  end)
step("the log should contain <text>", "^the logs? should contain%s+(.+)$", function(_, v)
  need_run()
  local want = as_text(parse_value(v))
  for _, m in ipairs(W.logs) do if find(m, want, 1, true) then return end end
  fail("no log message contains " .. show(want))
end)
step("the <name> parameter is <value>", "^the ([%w_]+) parameter is%s+(.+)$", function(_, k, v)
  local actual = ctx.params[k]
  if not loose_equal(actual, parse_value(v)) then
    fail("the parameter " .. k .. " is " .. show(actual) .. ", expected " .. show(parse_value(v)))
  end
end)

