-- One scenario's world: what its Given steps set up, the run of the
-- procedure, its outcome and what it called; and the two modes that read
-- Specifications, "list" and "scenario".  Called with the spec session S
-- (vm/lua/spec.lua); adds its functions to S.
local S = ...
local ctx, T, G, start, lib, chunk = S.ctx, S.T, S.G, S.start, S.lib, S.chunk
local type, pairs, ipairs, tostring, error, pcall, xpcall =
  type, pairs, ipairs, tostring, error, pcall, xpcall
local sub, match = string.sub, string.match
local value, gherkin, luascan = lib("value"), lib("gherkin"), lib("luascan")
local NIL, fail, sanitize = value.NIL, value.fail, value.sanitize

local W = {
  mock = start.mock and true or ctx.mock_all,
  loaded = false, ran = false, runs = 0,
  given_params = {}, given_mocks = {},
  agent_entries = {}, human = {}, human_by_message = {}, human_calls = {},
  host_calls = {}, agent_turns = {}, logs = {}, stages = ctx.stage_history,
}
S.W = W

-- Human.* answered by the scenario's givens; in mock mode by Tactus's mock
-- answers (tactus/testing/mock_hitl.py); otherwise by the broker as in a
-- run (--approve, none by default).
local HUMAN_KINDS = { approve = "approval", input = "input", review = "review", escalate = "escalation" }
S.HUMAN_KINDS = HUMAN_KINDS
local MOCK_ANSWERS = { approval = true, input = "test input", review = { decision = "Approve" },
                       escalation = { escalated = true } }

local function install_human(H, world)
  local orig = {}
  for name in pairs(HUMAN_KINDS) do orig[name] = H[name] end
  local function answer(kind, opts)
    local message = type(opts) == "table" and opts.message or (type(opts) == "string" and opts) or ""
    message = tostring(message)
    for _, r in ipairs(world.human_by_message) do
      if sub(message, 1, #r.prefix) == r.prefix then return true, r.value end
    end
    local v = world.human[kind]
    if v ~= nil then return true, v end
    if world.mock then return true, ctx.deep_copy(MOCK_ANSWERS[kind]) end
    return false
  end
  local function wrap(name, convert)
    local kind = HUMAN_KINDS[name]
    H[name] = function(opts, ...)
      local found, v = answer(kind, opts)
      local message = type(opts) == "table" and opts.message or opts
      if not found then
        local r = orig[name](opts, ...)
        world.human_calls[#world.human_calls + 1] = { kind = kind, message = message, value = r }
        return r
      end
      if v == NIL then v = nil end
      ctx.emit("control_response", { request_type = kind, value = sanitize(v), timed_out = false })
      local r = convert(v)
      world.human_calls[#world.human_calls + 1] = { kind = kind, message = message, value = r }
      return r
    end
  end
  wrap("approve", ctx.approval_value)
  wrap("input", function(v) if v == nil then return nil end return tostring(v) end)
  wrap("review", function(v) if type(v) ~= "table" then v = { decision = v } end return v end)
  wrap("escalate", function(v) return v end)
end
S.install_human = install_human

function S.install_hooks()
  -- test --mock-config FILE.json: {"name": value} answers NAME with VALUE
  -- (or, when VALUE has returns / temporal / conditional, is its Mocks
  -- entry), ahead of the file's own Mocks {}.
  if type(start.mock_config) == "table" then
    for name, v in pairs(start.mock_config) do
      if type(name) == "string" then
        local entry = v
        if not (type(v) == "table" and (v.returns ~= nil or v.temporal ~= nil or v.conditional ~= nil)) then
          entry = { returns = v }
        end
        S.set_mock(name, entry)
      end
    end
  end
  -- Given mocks win over the file's Mocks {}.
  local mocks = G.Mocks
  G.Mocks = function(spec)
    if type(spec) ~= "table" then return mocks(spec) end
    local kept = {}
    for k, v in pairs(spec) do if not W.given_mocks[k] then kept[k] = v end end
    return mocks(kept)
  end
  -- Host tools: record every call; a given mock answers without the broker.
  local host = ctx.call_host_tool
  ctx.call_host_tool = function(name, args)
    local rec = { name = name, args = args }
    W.host_calls[#W.host_calls + 1] = rec
    if W.given_mocks[name] then
      local ok, v = ctx.mock_answer(name, args)
      if ok then rec.result = v return v end
    end
    local v = host(name, args)
    rec.result = v
    return v
  end
  -- Agent turns and logs, from the events the runtime emits.
  local emit = ctx.emit
  ctx.emit = function(event_type, fields)
    if type(fields) == "table" then
      if event_type == "agent_turn" and fields.stage == "completed" then
        local name = tostring(fields.agent_name)
        W.agent_turns[name] = (W.agent_turns[name] or 0) + 1
      elseif event_type == "log" and #W.logs < 1000 then
        W.logs[#W.logs + 1] = tostring(fields.message)
      end
    end
    return emit(event_type, fields)
  end
  -- Tools and agents a Given step mocks answer from it even without --mock
  -- (tools.lua and agent.lua read this set).
  ctx.scenario_mocks = W.given_mocks
  install_human(G.Human, W)
end

local function traceback(e)
  if type(e) == "string" then return T.traceback(e, 2) end
  return e
end
S.traceback = traceback

local function traceback(e)
  if type(e) == "string" then return T.traceback(e, 2) end
  return e
end

local function record_outcome(ok, result)
  W.ran = true
  W.runs = W.runs + 1
  W.ok = ok
  if ok then
    W.result, W.err, W.err_text, W.err_type = result, nil, nil, nil
  else
    W.result = nil
    W.err = result
    local text = T.error_text(result)
    if type(result) == "string" then text = match(text, "^([^\n]*)") end
    W.err_text = text
    W.err_type = type(result) == "table" and type(result.type) == "string" and result.type or "RuntimeError"
    if type(result) == "table" and result.__waiting then
      W.err_text = "the procedure paused waiting for a human (" .. text .. "); answer it with a Given "
        .. "such as Human.approve will return true, or run with --mock"
    end
  end
end

-- Run the file's chunk: declarations for a Procedure file; for a script
-- (no Procedure) this IS the procedure run.
local function ensure_loaded()
  if W.loaded then return end
  W.loaded = true
  local ok, result = xpcall(chunk, traceback)
  local found, main = pcall(ctx.find_main)
  if ok and not found then ok, result = false, main end
  if ok and main == nil then
    W.script = true
    pcall(ctx.finish_script, result)
    record_outcome(true, result)
  elseif not ok then
    if main == nil then W.script = true end
    W.load_failed = true
    record_outcome(false, result)
  else
    W.main = main
  end
end

local function apply_params()
  local schema = W.main and W.main.input
  for k, v in pairs(W.given_params) do
    local f = type(schema) == "table" and schema[k]
    -- The schema types text (as for --param); field.any does not.
    if f ~= nil and ctx.is_field(f) and f.kind ~= "any" and v.typed ~= NIL then ctx.params[k] = v.raw
    elseif v.typed == NIL then ctx.params[k] = nil
    else ctx.params[k] = v.typed end
  end
end

local function run_procedure()
  ensure_loaded()
  if W.script or W.load_failed then
    if not W.ran then record_outcome(false, "the procedure did not run") end
    return
  end
  apply_params()
  local ok, result = xpcall(function() return ctx.run_main(W.main) end, traceback)
  record_outcome(ok, result)
end

local function need_run()
  if not W.ran then run_procedure() end
end

local function need_output()
  need_run()
  if not W.ok then fail("the procedure failed, so it has no output: " .. tostring(W.err_text)) end
  return W.result
end
S.ensure_loaded, S.run_procedure, S.need_run, S.need_output = ensure_loaded, run_procedure, need_run,
  need_output

function S.setup_allowed(what)
  if W.script and W.ran then
    fail(what .. " comes too late: this script-mode file already ran (it runs when it is loaded, "
      .. "which a custom step before this one caused); put built-in Given steps first")
  end
end

function S.set_param(k, raw, typed)
  S.setup_allowed("the input " .. k)
  W.given_params[k] = { raw = raw, typed = typed }
  -- Script mode reads ctx.params when its input {} runs; a Procedure's
  -- inputs are typed by its schema just before it runs (apply_params).
  if typed == NIL then ctx.params[k] = nil else ctx.params[k] = raw end
  if not W.loaded and type(G.input) == "table" then
    if typed == NIL then G.input[k] = nil else G.input[k] = typed end
  end
end

function S.set_mock(name, entry)
  W.given_mocks[name] = true
  ctx.mocks[name] = entry
end

-- The agent's scripted turns: a new turn (FRESH), or the current one.
function S.agent_entry(agent, fresh)
  local list = W.agent_entries[agent]
  if list == nil then list = {}; W.agent_entries[agent] = list end
  local e = list[#list]
  if e == nil or fresh then
    e = { tool_calls = {} }
    list[#list + 1] = e
  end
  W.given_mocks[agent] = true
  if #list == 1 then ctx.mocks[agent] = list[1] else ctx.mocks[agent] = { temporal = list } end
  return e
end

---------------------------------------------------------------------------
-- Modes
---------------------------------------------------------------------------

-- The texts and, when every one is a long string read from the source,
-- the file line each starts on.
function S.spec_texts()
  local texts, dynamic, lines = luascan.specifications(T.source)
  if #texts > 0 and not dynamic then
    for i = 1, #texts do if not lines[i] then return texts end end
    return texts, lines, T.chunkname
  end
  ensure_loaded()
  if W.load_failed and #ctx.specs == 0 then
    error({ type = "LoadError", message = "the file failed while it was loaded, before it declared its "
      .. "specifications: " .. tostring(W.err_text) }, 0)
  end
  return ctx.specs
end

function S.mode_list()
  local scenarios, features = gherkin.scenarios(S.spec_texts())
  local out, names = {}, {}
  for i, sc in ipairs(scenarios) do
    out[i] = { name = sc.name, feature = sc.feature, outline = sc.outline, steps = #sc.steps, line = sc.line }
  end
  for i, f in ipairs(features) do names[i] = f.name end
  return { scenarios = out, features = names }
end

function S.mode_scenario()
  local name = start.scenario
  if type(name) ~= "string" then error({ type = "BadRequest", message = "scenario mode needs a scenario name" }, 0) end
  local texts, lines, file = S.spec_texts()
  local scenarios = gherkin.scenarios(texts, lines, file)
  local sc
  for _, s in ipairs(scenarios) do if s.name == name then sc = s break end end
  if not sc then error({ type = "ScenarioNotFound", message = "no scenario named \"" .. name .. "\"" }, 0) end
  W.scenario = sc.name
  local t0 = T.monotonic()
  local results, failed, first = {}, false, nil
  for i, s in ipairs(sc.steps) do
    local r = { keyword = s.keyword, step = s.text, line = s.line, background = s.background or nil }
    if failed then
      r.status = "skipped"
    else
      local t1 = T.monotonic()
      r.status, r.message = S.run_step(s)
      r.duration_ms = (T.monotonic() - t1) * 1000
      if r.status ~= "passed" then
        failed = true
        first = i
      end
    end
    results[i] = r
  end
  return {
    scenario = sc.name, feature = sc.feature, status = failed and "failed" or "passed", steps = results,
    first_failure = first, ran = W.ran, procedure_ok = W.ran and W.ok or nil,
    -- The steps' lines are the file's (a Specification read from the
    -- source), not the Gherkin text's.
    lines_in_file = lines ~= nil or nil,
    procedure_error = W.err_text, duration_ms = (T.monotonic() - t0) * 1000,
  }
end
