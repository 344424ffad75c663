-- Evaluations (`tactus-run eval`): every Evaluation's dataset run through
-- the procedure, each case in a fresh runtime, scored by its evaluators
-- (field.equals_expected{}, field.contains{}, ..., custom functions) and
-- checked against its thresholds.  Called with the spec session S; adds
-- S.mode_eval.
local S = ...
local ctx, T, lib, W, start = S.ctx, S.T, S.lib, S.W, S.start
local type, pairs, ipairs, tostring, tonumber, pcall, xpcall, error, next =
  type, pairs, ipairs, tostring, tonumber, pcall, xpcall, error, next
local find, match, gmatch, lower, format = string.find, string.match, string.gmatch, string.lower,
  string.format
local value, regex = lib("value"), lib("regex")
local trim, show, clip, sanitize, as_text, get_path, deep_equal, loose_equal, error_message =
  value.trim, value.show, value.clip, value.sanitize, value.as_text, value.get_path, value.deep_equal,
  value.loose_equal, value.error_message
local regex_search = regex.search
local traceback = S.traceback

local TYPE_NAMES = {
  str = "string", string = "string", int = "number", integer = "number", float = "number",
  number = "number", bool = "boolean", boolean = "boolean", dict = "table", object = "table",
  table = "table", list = "table", array = "table",
}

local function ev_target(e, run)
  local out = run.output
  if e.field and type(out) == "table" then return get_path(out, e.field) end
  return out
end

local function length_of(v)
  if type(v) == "table" then
    local n = 0
    for _ in pairs(v) do n = n + 1 end
    return n
  end
  return #as_text(v)
end

-- llm_judge: the judge model (the evaluator's model, else the file's
-- default_model, else openai/gpt-4o-mini) is asked through the broker, as an
-- agent's model is, for {"passed", "score", "reason"}.  With --mock no model
-- is called, so it is skipped (shown, and never counted as a pass).
local JUDGE_SYSTEM = "You are a strict evaluator. Judge the OUTPUT of a procedure against the RUBRIC "
  .. "(the INPUT and the EXPECTED OUTPUT are context). Answer with only a JSON object: "
  .. '{"passed": true or false, "score": a number from 0 to 1, "reason": "one sentence"}.'

local function judge_verdict(text)
  local body = match(text, "```%w*%s*(.-)%s*```") or match(text, "(%b{})") or text
  local ok, v = pcall(T.json_decode, body)
  if not ok or type(v) ~= "table" then return nil end
  local passed = v.passed
  if passed == nil then passed = v.pass end
  if type(passed) == "string" then passed = lower(passed) == "true" or lower(passed) == "pass" end
  local score = tonumber(v.score)
  if type(passed) ~= "boolean" and score == nil then return nil end
  return passed, score, type(v.reason) == "string" and v.reason or nil
end

local function judge(e, run, case)
  if W.mock then return nil, "--mock calls no model, and llm_judge needs one" end
  local rubric = e.rubric or e.criteria or e.prompt or e.value
  if type(rubric) ~= "string" then return false, "llm_judge: no rubric (give rubric = \"...\")" end
  local model = e.model or (ctx.settings and ctx.settings.default_model) or "openai/gpt-4o-mini"
  local function j(v)
    local ok, t = pcall(T.json_encode, sanitize(v), true)
    return ok and t or tostring(v)
  end
  local user = "RUBRIC:\n" .. rubric .. "\n\nINPUT:\n" .. j(case.inputs or case.input or {})
    .. "\n\nEXPECTED OUTPUT:\n" .. j(case.expected_output) .. "\n\nOUTPUT:\n" .. j(run.output)
  local ok, reply = pcall(T.call, "llm.chat", { model = model, stream = false,
    temperature = e.temperature or 0, agent_name = "llm_judge",
    messages = { { role = "system", content = JUDGE_SYSTEM }, { role = "user", content = user } } })
  if not ok then return false, "llm_judge: the judge model call failed: " .. T.error_text(reply) end
  local text = type(reply.text) == "string" and reply.text or ""
  local passed, score, reason = judge_verdict(text)
  if passed == nil and score == nil then
    return false, "llm_judge: the judge's answer is not {\"passed\", \"score\"}: " .. show(clip(text, 200))
  end
  local threshold = tonumber(e.threshold) or 0.5
  if type(passed) ~= "boolean" then passed = score >= threshold
  elseif score ~= nil and score < threshold then passed = false end
  local why = (score and format("score %.2f", score) or (passed and "passed" or "failed"))
    .. (score and passed == false and score >= threshold and " (the judge said it fails)" or "")
    .. (score and score < threshold and format(", below %.2f", threshold) or "")
    .. (reason and (": " .. clip(reason, 300)) or "")
  return passed, why
end

-- Each returns passed (true/false, or nil when skipped), reason.
local EVALUATORS = {
  equals_expected = function(e, run, case)
    local expected = e.value
    if expected == nil then expected = e.expected end
    local exp_out = case.expected_output
    if expected == nil then
      if exp_out == nil then return true, "no expected output" end
      if e.field then expected = type(exp_out) == "table" and get_path(exp_out, e.field) or nil
      else expected = exp_out end
    end
    local actual = ev_target(e, run)
    if deep_equal(actual, expected) or (type(expected) ~= "table" and loose_equal(actual, expected)) then
      return true
    end
    return false, "expected " .. show(expected) .. ", got " .. show(actual)
  end,
  contains = function(e, run, case)
    local want = e.value
    if want == nil then want = e.expected end
    if want == nil and e.check_expected and type(case.expected_output) == "table" then
      want = case.expected_output[e.check_expected]
    end
    if want == nil and e.field and type(case.expected_output) == "table" then
      want = case.expected_output[e.field]
    end
    if want == nil then return false, "contains: no value to look for (give value = ...)" end
    local text = as_text(ev_target(e, run))
    local w = as_text(want)
    if e.case_sensitive == false then text, w = lower(text), lower(w) end
    if find(text, w, 1, true) then return true end
    return false, show(clip(text, 120)) .. " does not contain " .. show(w)
  end,
  contains_any = function(e, run, case)
    local values = type(e.value) == "table" and e.value or e.values
    if values == nil and e.check_expected and type(case.expected_output) == "table" then
      values = case.expected_output[e.check_expected]
      if type(values) ~= "table" then values = { values } end
    end
    if values == nil and type(case.expected_output) == "table" then
      values = {}
      for _, v in pairs(case.expected_output) do values[#values + 1] = v end
    end
    if values == nil or #values == 0 then return false, "contains_any: no values to look for" end
    local text = lower(as_text(ev_target(e, run)))
    for _, v in ipairs(values) do if find(text, lower(as_text(v)), 1, true) then return true end end
    return false, show(clip(text, 120)) .. " contains none of " .. show(values)
  end,
  min_length = function(e, run, case)
    local min = tonumber(e.value or e.min or e.length) or 0
    if e.check_expected and type(case.expected_output) == "table" then
      min = tonumber(case.expected_output[e.check_expected]) or min
    end
    local n = length_of(ev_target(e, run))
    if n >= min then return true end
    return false, "length " .. n .. " is less than " .. min
  end,
  max_length = function(e, run)
    local max = tonumber(e.value or e.max or e.length) or 0
    local n = length_of(ev_target(e, run))
    if n <= max then return true end
    return false, "length " .. n .. " is more than " .. max
  end,
  length = function(e, run)
    local want = tonumber(e.value or e.length)
    local n = length_of(ev_target(e, run))
    if n == want then return true end
    return false, "length " .. n .. ", expected " .. tostring(want)
  end,
  regex = function(e, run)
    local p = e.pattern or e.value or e.regex
    if type(p) ~= "string" then return false, "regex: no pattern (give pattern = \"...\")" end
    local text = as_text(ev_target(e, run))
    if e.lua then
      local ok, hit = pcall(find, text, p)
      if not ok then return false, "bad Lua pattern: " .. T.error_text(hit) end
      if hit then return true end
    elseif regex_search(p, text) then
      return true
    end
    return false, show(clip(text, 120)) .. " does not match \"" .. p .. "\""
  end,
  one_of = function(e, run)
    local values = e.values or e.value or e.options
    if type(values) ~= "table" then return false, "one_of: no values (give values = {...})" end
    local actual = ev_target(e, run)
    for _, v in ipairs(values) do if loose_equal(actual, v) then return true end end
    return false, show(actual) .. " is not one of " .. show(values)
  end,
  is_instance = function(e, run)
    local want = TYPE_NAMES[lower(tostring(e.value or e.type_name or ""))]
    if not want then return false, "is_instance: unknown type " .. show(e.value) end
    local actual = ev_target(e, run)
    if type(actual) == want then return true end
    return false, "a " .. type(actual) .. ", expected a " .. want
  end,
  range = function(e, run)
    local v = tonumber(ev_target(e, run))
    if v == nil then return false, show(ev_target(e, run)) .. " is not a number" end
    local lo, hi = tonumber(e.min or e.min_value), tonumber(e.max or e.max_value)
    if (lo and v < lo) or (hi and v > hi) then
      return false, v .. " is outside [" .. tostring(lo or "-inf") .. ", " .. tostring(hi or "inf") .. "]"
    end
    return true
  end,
  max_iterations = function(e, run)
    local max = tonumber(e.value) or 10
    if (run.iterations or 0) <= max then return true end
    return false, run.iterations .. " iterations, more than " .. max
  end,
  tool_called = function(e, run)
    local name = e.value or e.tool or e.tool_name
    local n = run.tool_counts[name] or 0
    local lo, hi = tonumber(e.min_value or e.min) or 1, tonumber(e.max_value or e.max)
    if n < lo or (hi and n > hi) then return false, tostring(name) .. " was called " .. n .. " time(s)" end
    return true
  end,
  state_check = function(e, run)
    local v = run.state and get_path(run.state, e.field or "") or nil
    if loose_equal(v, e.value) then return true end
    return false, "state " .. tostring(e.field) .. " is " .. show(v) .. ", expected " .. show(e.value)
  end,
  -- The run's usage: every agent call of the run summed (mock turns use 0
  -- tokens and cost 0).
  max_tokens = function(e, run)
    local max = tonumber(e.value or e.max or e.max_tokens or e.limit)
    if max == nil then return false, "no limit (give value = N)" end
    local n = run.usage.total_tokens
    if n <= max then return true, n .. " tokens" end
    return false, "the run used " .. n .. " tokens, more than " .. max
  end,
  max_cost = function(e, run)
    local max = tonumber(e.value or e.max or e.max_cost or e.limit)
    if max == nil then return false, "no limit (give value = N)" end
    local c = run.usage.cost
    if c == nil then
      return false, "cost not reported by the model (its replies carry no usage.cost), so max_cost cannot be checked"
    end
    if c <= max then return true, "cost " .. c end
    return false, "the run cost " .. c .. ", more than " .. max
  end,
  llm_judge = function(e, run, case)
    return judge(e, run, case)
  end,
}
EVALUATORS.exact_match = EVALUATORS.equals_expected
EVALUATORS.matches = EVALUATORS.regex
EVALUATORS.contains_all = function(e, run, case)
  local values = type(e.value) == "table" and e.value or e.values or {}
  local text = as_text(ev_target(e, run))
  for _, v in ipairs(values) do
    if not find(text, as_text(v), 1, true) then return false, "does not contain " .. show(v) end
  end
  return true
end

local function evaluator_name(e, i)
  if type(e) == "function" then return "custom " .. i end
  local kind = e.evaluator or e.type or "?"
  return e.name or (kind .. (e.field and ("(" .. e.field .. ")") or ""))
end

local function apply_evaluator(e, run, case)
  if type(e) == "function" then
    local ok, r, why = pcall(e, run.output, case.expected_output, case)
    if not ok then return false, T.error_text(r) end
    if type(r) == "number" then return r >= 0.5, why end
    if type(r) == "table" then return r.passed ~= false and r.pass ~= false, r.reason end
    return r ~= false and r ~= nil, why
  end
  if type(e) ~= "table" then return false, "not an evaluator: " .. show(e) end
  if type(e.evaluate) == "function" or type(e.fn) == "function" then
    return apply_evaluator(e.evaluate or e.fn, run, case)
  end
  local kind = e.evaluator or e.type
  local f = EVALUATORS[kind]
  if not f then return false, "unknown evaluator '" .. tostring(kind) .. "'" end
  if not run.ok then return false, "the procedure failed: " .. tostring(run.error) end
  local ok, passed, why = pcall(f, e, run, case)
  if not ok then return false, error_message(passed) end
  return passed, why
end

local function load_dataset_file(path)
  local ok, text = pcall(ctx.fs.read, path, "dataset_file")
  if not ok then
    error({ type = "DatasetError", message = "dataset_file " .. path .. ": " .. T.error_text(text)
      .. " (paths are relative to " .. ctx.path_base() .. ")" }, 0)
  end
  local cases = {}
  local okj, whole = pcall(T.json_decode, text)
  if okj and type(whole) == "table" then
    -- A JSON array of cases; a single object is a JSON Lines file of one case.
    if whole[1] == nil and next(whole) ~= nil then return { whole } end
    for _, c in ipairs(whole) do cases[#cases + 1] = c end
    return cases
  end
  local n = 0
  for line in gmatch(text, "[^\r\n]+") do
    n = n + 1
    if trim(line) ~= "" then
      local okl, c = pcall(T.json_decode, line)
      if not okl or type(c) ~= "table" then
        error({ type = "DatasetError", message = "dataset_file " .. path .. ", line " .. n .. ": not a JSON object" }, 0)
      end
      cases[#cases + 1] = c
    end
  end
  return cases
end

-- One case run in a fresh runtime (its own globals, state, tools, agents).
local function eval_run(case)
  local rt = ctx.sub_runtime()
  local env = rt.env
  local world = { mock = W.mock, human = {}, human_by_message = {}, human_calls = {} }
  S.install_human(env.Human, world)
  local c, lerr = T.load(T.source, "@" .. T.chunkname, env)
  if not c then
    return { ok = false, error = tostring(lerr), duration_ms = 0, usage = rt.usage(), tool_counts = {} }
  end
  local params = {}
  for k, v in pairs(ctx.params) do params[k] = v end
  for k, v in pairs(case.inputs or case.input or {}) do params[k] = v end
  local t0 = T.monotonic()
  local ok, result = xpcall(function() return rt.run(c, params) end, traceback)
  local run = { ok = ok, duration_ms = (T.monotonic() - t0) * 1000, usage = rt.usage() }
  if ok then run.output = result else run.error = match(T.error_text(result), "^([^\n]*)") end
  pcall(function()
    run.iterations = env.Iterations.current()
    run.state = env.State.all()
  end)
  run.tool_counts = {}
  return run, env
end

function S.mode_eval()
  S.ensure_loaded()
  if W.load_failed and not W.script then
    error({ type = "LoadError", message = "the file failed while it was loaded: " .. tostring(W.err_text) }, 0)
  end
  local out = {}
  for ei, E in ipairs(ctx.evaluations) do
    if type(E) ~= "table" then error({ type = "EvaluationError", message = "Evaluation " .. ei .. " is not a table" }, 0) end
    local runs = tonumber(start.runs) or tonumber(E.runs) or 1
    local cases = {}
    for _, c in ipairs(E.dataset or {}) do cases[#cases + 1] = c end
    if type(E.dataset_file) == "string" then
      for _, c in ipairs(load_dataset_file(E.dataset_file)) do cases[#cases + 1] = c end
    end
    local evaluators = E.evaluators or {}
    local ev_stats = {}
    for i, e in ipairs(evaluators) do ev_stats[i] = { name = evaluator_name(e, i), passed = 0, failed = 0, skipped = 0 } end
    local total, passed, max_ms, sum_ms = 0, 0, 0, 0
    local max_tokens, max_cost, cost_unknown = 0, 0, false
    local case_out = {}
    for ci, case in ipairs(cases) do
      if type(case) ~= "table" then case = { inputs = {} } end
      local co = { name = case.name or ("case " .. ci), inputs = sanitize(case.inputs or case.input),
                   expected = sanitize(case.expected_output), runs = {}, passed = 0 }
      for r = 1, runs do
        local run, env = eval_run(case)
        if env then
          for _, e in ipairs(evaluators) do
            local name = type(e) == "table" and (e.value or e.tool or e.tool_name)
            if type(e) == "table" and (e.evaluator or e.type) == "tool_called" and type(name) == "string" then
              local okh, h = pcall(function() return env.Tool.get(name) end)
              run.tool_counts[name] = okh and h and h.call_count() or 0
            end
          end
        end
        local ro = { ok = run.ok, error = run.error, duration_ms = run.duration_ms,
                     output = sanitize(run.output), evaluators = {} }
        local all = run.ok
        for i, e in ipairs(evaluators) do
          local p, why = apply_evaluator(e, run, case)
          local st = ev_stats[i]
          if p == nil then st.skipped = st.skipped + 1; st.skip_reason = st.skip_reason or why
          elseif p then st.passed = st.passed + 1
          else st.failed = st.failed + 1; all = false end
          ro.evaluators[i] = { name = st.name, passed = p, reason = why }
        end
        ro.passed = all and true or false
        total = total + 1
        if all then passed = passed + 1; co.passed = co.passed + 1 end
        sum_ms = sum_ms + run.duration_ms
        ro.usage = { prompt_tokens = run.usage.prompt_tokens, completion_tokens = run.usage.completion_tokens,
                     total_tokens = run.usage.total_tokens, cost = run.usage.cost, model_calls = run.usage.calls }
        if run.usage.total_tokens > max_tokens then max_tokens = run.usage.total_tokens end
        if run.usage.cost == nil then cost_unknown = true
        elseif run.usage.cost > max_cost then max_cost = run.usage.cost end
        if run.duration_ms > max_ms then max_ms = run.duration_ms end
        co.runs[r] = ro
      end
      co.total = runs
      case_out[ci] = co
    end
    local rate = total > 0 and passed / total or 0
    local th = type(E.thresholds) == "table" and E.thresholds or {}
    local checks = {}
    local min_rate = tonumber(th.min_success_rate) or 1.0
    checks[#checks + 1] = { name = "min_success_rate", limit = min_rate, actual = rate, passed = total > 0 and rate >= min_rate }
    if th.max_duration then
      local lim = tonumber(th.max_duration)
      checks[#checks + 1] = { name = "max_duration", limit = lim, actual = max_ms / 1000, passed = max_ms / 1000 <= lim }
    end
    -- The most any one run used: its agent calls' usage summed.
    if th.max_tokens_per_run then
      local lim = tonumber(th.max_tokens_per_run)
      checks[#checks + 1] = { name = "max_tokens_per_run", limit = lim, actual = max_tokens,
                              passed = lim ~= nil and max_tokens <= lim }
    end
    if th.max_cost_per_run then
      local lim = tonumber(th.max_cost_per_run)
      if cost_unknown then
        checks[#checks + 1] = { name = "max_cost_per_run", limit = lim, passed = false,
                                note = "unknown: cost not reported by the model" }
      else
        checks[#checks + 1] = { name = "max_cost_per_run", limit = lim, actual = max_cost,
                                passed = lim ~= nil and max_cost <= lim }
      end
    end
    local ok_all = true
    for _, c in ipairs(checks) do if not c.passed then ok_all = false end end
    out[ei] = {
      name = E.name or ("Evaluation " .. ei), runs_per_case = runs, cases = case_out, total_runs = total,
      passed_runs = passed, success_rate = rate, evaluators = ev_stats, thresholds = checks, passed = ok_all,
      mean_duration_ms = total > 0 and sum_ms / total or 0, max_duration_ms = max_ms,
    }
  end
  return { evaluations = out }
end

---------------------------------------------------------------------------

