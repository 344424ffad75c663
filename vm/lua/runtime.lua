-- Runtime primitives: Log, state/State, Iterations, Stop, Retry, Sleep,
-- Json, File, checkpoint/Step, Human, System, Host, Model, Mocks and the
-- declarations that only `tactus-run test` / `eval` use.
local ctx = ...
local G, T = ctx.G, ctx.T
local type, pairs, ipairs, tostring, tonumber, error, pcall, setmetatable, select =
  type, pairs, ipairs, tostring, tonumber, error, pcall, setmetatable, select

-- Errors of primitives name the user's file and line (the innermost frame
-- of a .tac chunk), not the runtime's own code, and have the one shape of
-- every primitive's error: { type, message } whose tostring is
-- "Type: message" (ctx.error_mt, prelude.lua).  TYP: FileError unless
-- given (File.*, tactus.io, their paths).
function ctx.raise(message, typ)
  local src, line = T.where()
  if src then message = src .. ":" .. tostring(line) .. ": " .. message end
  error(setmetatable({ type = typ or "FileError", message = message }, ctx.error_mt), 0)
end

-- A C primitive whose string errors are re-raised at the user's line.
local function primitive(fn)
  return function(...)
    local ok, a, b = pcall(fn, ...)
    if ok then return a, b end
    if type(a) == "string" then ctx.raise((a:gsub("^tactus/[%w_]+:%d+: ", ""))) end
    error(a, 0)
  end
end

-- Log -----------------------------------------------------------------
local function logger(level)
  return function(message, context)
    if type(message) ~= "string" then message = tostring(message) end
    if context ~= nil and type(context) ~= "table" then context = { value = context } end
    ctx.emit("log", { level = level, message = message, context = context, logger_name = "procedure" })
  end
end
G.Log = { debug = logger("DEBUG"), info = logger("INFO"), warn = logger("WARNING"),
          warning = logger("WARNING"), error = logger("ERROR") }

-- state / State --------------------------------------------------------
local state = ctx.state
G.state = setmetatable({}, {
  __index = function(_, k) return state[k] end,
  __newindex = function(_, k, v) state[k] = v end,
  __pairs = function() return pairs(state) end,
})
G.State = {
  increment = function(key, amount)
    local v = state[key] or 0
    if type(v) ~= "number" then error("State.increment: '" .. tostring(key) .. "' is not a number", 2) end
    state[key] = v + (amount or 1)
    return state[key]
  end,
  append = function(key, value)
    local list = state[key]
    if list == nil then list = {}; state[key] = list end
    if type(list) ~= "table" then error("State.append: '" .. tostring(key) .. "' is not a list", 2) end
    list[#list + 1] = value
    return list
  end,
  all = function() return ctx.deep_copy(state) end,
  get = function(key, default)
    local v = state[key]
    if v == nil then return default end
    return v
  end,
  set = function(key, value) state[key] = value end,
  clear = function() for k in pairs(state) do state[k] = nil end end,
}

-- Iterations / Stop ------------------------------------------------------
G.Iterations = {
  current = function() return ctx.iterations end,
  increment = function() ctx.iterations = ctx.iterations + 1; return ctx.iterations end,
  exceeded = function(n) return ctx.iterations >= n end,
  reset = function() ctx.iterations = 0 end,
}
local stop = { requested = false }
G.Stop = {
  requested = function() return stop.requested end,
  reason = function() return stop.reason end,
  success = function() return stop.success end,
  request = function(reason, success)
    stop.requested, stop.reason = true, reason
    stop.success = success == nil and true or success
  end,
  reset = function() stop.requested, stop.reason, stop.success = false, nil, nil end,
}

-- Sleep / Retry -----------------------------------------------------------
-- In slices: after SIGINT/SIGTERM the next Lua instruction raises, so a
-- long Sleep ends promptly instead of at the broker's grace deadline.
local function sleep(seconds)
  local left = seconds
  while left > 0 do
    local s = left < 0.1 and left or 0.1
    T.sleep(s)
    left = left - s
  end
end
G.Sleep = function(seconds)
  if type(seconds) ~= "number" then error("Sleep: seconds must be a number", 2) end
  if not (seconds >= 0) or seconds > 86400 * 365 then error("Sleep: seconds must be between 0 and a year", 2) end
  sleep(seconds)
end
G.Retry = {
  with_backoff = function(fn, opts)
    if type(fn) ~= "function" then error("Retry.with_backoff: the first argument must be a function", 2) end
    opts = opts or {}
    local attempts = opts.max_attempts or opts.max_retries or 3
    local delay = opts.initial_delay or 1
    local factor = opts.backoff_factor or 2
    local max_delay = opts.max_delay or 60
    local last
    for attempt = 1, attempts do
      local ok, result = pcall(fn, attempt)
      if ok then return result end
      if ctx.is_waiting(result) then error(result, 0) end -- a pause is not a failure to retry
      last = result
      if attempt < attempts then
        ctx.emit("log", { level = "WARNING", message = "Retry: attempt " .. attempt .. " failed: " .. T.error_text(result) })
        sleep(delay)
        delay = delay * factor
        if delay > max_delay then delay = max_delay end
      end
    end
    error(last, 0)
  end,
}

-- Json --------------------------------------------------------------------
G.Json = {
  encode = function(v, pretty) return T.json_encode(v, pretty) end,
  decode = function(s)
    if type(s) ~= "string" then error("Json.decode: expected a string", 2) end
    return T.json_decode(s)
  end,
}

-- File: confined to the workspace (vm/files.c); user paths are resolved
-- by ctx.workspace_path (paths.lua): relative to the procedure's directory.
local files = {}
for name, fn in pairs(T.files) do files[name] = primitive(fn) end
ctx.files = files
local fs = {}
function fs.read(path, what) return files.read(ctx.workspace_path(path, nil, what or "File.read")) end
-- As Tactus's File.write (and its tactus.io writers), missing parent
-- directories are made.
function fs.write(path, content, append, what)
  local p = ctx.workspace_path(path, nil, what or "File.write")
  local parent = ctx.parent_dir(p)
  if parent then files.mkdir(parent, true) end
  files.write(p, content, append)
end
function fs.exists(path) return files.exists(ctx.workspace_path(path, nil, "File.exists")) end
function fs.size(path) return files.size(ctx.workspace_path(path, nil, "File.size")) end
function fs.is_dir(path) return files.is_dir(ctx.workspace_path(path, nil, "File.is_dir")) end
function fs.list(path)
  local names = files.list(ctx.workspace_path(path or ".", nil, "File.list"))
  table.sort(names)
  return names
end
function fs.remove(path) files.remove(ctx.workspace_path(path, nil, "File.remove")) end
function fs.mkdir(path) files.mkdir(ctx.workspace_path(path, nil, "File.mkdir"), true) end
ctx.fs = fs
G.File = {
  read = function(path) return fs.read(path) end,
  write = function(path, content)
    if type(content) ~= "string" then content = tostring(content) end
    fs.write(path, content, false)
    return true
  end,
  append = function(path, content) fs.write(path, tostring(content), true, "File.append"); return true end,
  exists = function(path) return fs.exists(path) end,
  size = function(path) return fs.size(path) end,
  list = function(path) return fs.list(path) end,
  remove = function(path) fs.remove(path); return true end,
  mkdir = function(path) fs.mkdir(path); return true end,
  is_dir = function(path) return fs.is_dir(path) end,
}

-- checkpoint / Step.checkpoint: run once, replay from storage by position ----
-- Positions count up across the whole run, sub-procedures included (their
-- runtimes share T, where the counter lives).  A checkpoint records the
-- position after its nested ones (end_position), so replaying it skips
-- them and the positions that follow stay those of the first run.
T.checkpoint_counter = T.checkpoint_counter or { position = 0 }
local counter = T.checkpoint_counter
local function checkpoint(fn, opts)
  if type(fn) ~= "function" then error("checkpoint: expected a function", 2) end
  counter.position = counter.position + 1
  local position = counter.position
  local saved = ctx.checkpoints[position] or ctx.checkpoints[tostring(position)]
  if saved ~= nil and type(saved) == "table" and saved.done then
    if type(saved.end_position) == "number" and saved.end_position > counter.position then
      counter.position = saved.end_position
    end
    return saved.value
  end
  local src, line = T.where()
  local t0 = T.monotonic()
  ctx.current_position = position
  local value = fn()
  local ms = (T.monotonic() - t0) * 1000
  T.call("checkpoint.save", { position = position, end_position = counter.position, value = value,
    source_location = src and (src .. ":" .. tostring(line)) or nil,
    name = type(opts) == "table" and opts.name or nil })
  ctx.emit("checkpoint_created", { checkpoint_position = position, checkpoint_type = "explicit",
    duration_ms = ms, source_location = src and (src .. ":" .. tostring(line)) or nil })
  return value
end
G.checkpoint = checkpoint
ctx.checkpoint = checkpoint
G.Checkpoint = {
  next_position = function() return counter.position + 1 end,
  exists = function(pos) return ctx.checkpoints[pos] ~= nil or ctx.checkpoints[tostring(pos)] ~= nil end,
  get = function(pos)
    local s = ctx.checkpoints[pos] or ctx.checkpoints[tostring(pos)]
    return s and s.value
  end,
  -- Forget recorded checkpoints (all, or those after position POS): the
  -- rest of this run runs their code again instead of replaying.  The
  -- storage file keeps its entries until the run completes.
  clear_all = function()
    for k in pairs(ctx.checkpoints) do ctx.checkpoints[k] = nil end
  end,
  clear_after = function(pos)
    for k in pairs(ctx.checkpoints) do
      if (tonumber(k) or 0) > (tonumber(pos) or 0) then ctx.checkpoints[k] = nil end
    end
  end,
}

-- Step("phrase", fn) declares a custom Gherkin step (inert in `run`);
-- Step.checkpoint(fn) is the checkpoint primitive.
G.Step = setmetatable({ checkpoint = function(fn, opts) return checkpoint(fn, opts) end }, {
  __call = function(_, phrase, fn)
    if type(phrase) ~= "string" or type(fn) ~= "function" then
      error('Step: expected Step("phrase", function(...) ... end)', 2)
    end
    ctx.steps[#ctx.steps + 1] = { phrase = phrase, fn = fn }
  end,
})

-- Human / System: brokered control requests ----------------------------------
local function waiting(message)
  error({ __waiting = true, type = "WaitingForHuman", message = message }, 0)
end

local function control(request_type, opts, fallback_key)
  if type(opts) == "string" then opts = { message = opts } end
  if type(opts) ~= "table" then
    error("Human." .. request_type .. ": expected a table such as { message = \"...\" }", 3)
  end
  local src, line = T.where()
  local req = {
    position = ctx.current_position,
    request_type = request_type,
    message = opts.message,
    label = opts.label or fallback_key,
    options = opts.options,
    timeout_seconds = opts.timeout,
    default_value = opts.default,
    metadata = opts.context,
    items = opts.artifact and { opts.artifact } or nil,
    runtime_context = { source_file = src, source_line = line, procedure_name = ctx.procedure_name },
  }
  local ok, reply = pcall(T.call, "control.request", { request = req })
  if not ok then
    if type(reply) == "table" and reply.type == "WaitingForHuman" then waiting(reply.message) end
    error(reply, 0)
  end
  ctx.emit("control_response", { request_type = request_type, value = reply.value,
    timed_out = reply.timed_out })
  if reply.timed_out then return opts.default end
  return reply.value
end

-- Blocking requests are checkpoints: an answer is recorded by position, so a
-- paused run (no one to answer) resumes at the same point once answered
-- (`tactus-run answer`, then a re-run with --storage file).
local function blocking(request_type, opts, key)
  return checkpoint(function() return control(request_type, opts, key) end)
end

-- An answer to an approval as the boolean Human.approve returns.
function ctx.approval_value(v)
  if type(v) == "string" then v = v:lower() end
  return v == true or v == "true" or v == "yes" or v == "y" or v == "approve" or v == "approved"
end

G.Human = {
  approve = function(opts, overrides)
    return ctx.approval_value(blocking("approval", opts, overrides))
  end,
  input = function(opts)
    local v = blocking("input", opts)
    if v == nil then return nil end
    return tostring(v)
  end,
  review = function(opts)
    local v = blocking("review", opts)
    if type(v) ~= "table" then v = { decision = v } end
    return v
  end,
  escalate = function(opts) return blocking("escalation", opts) end,
  notify = function(opts)
    if type(opts) == "string" then opts = { message = opts } end
    ctx.emit("human_notification", { message = opts.message, level = opts.level or "info", context = opts.context })
  end,
}
G.System = {
  alert = function(opts)
    if type(opts) == "string" then opts = { message = opts } end
    ctx.emit("system_alert", { message = opts.message, level = opts.level or "info",
      source = opts.source, context = opts.context })
  end,
}

-- Host.call: a brokered, allowlisted host tool --------------------------------
G.Host = {
  call = function(name, args)
    if type(name) ~= "string" then error("Host.call: the tool name must be a string", 2) end
    return ctx.call_host_tool(name, args or {})
  end,
}

-- Stage: the broker's policy may allow host tools per stage ------------------
-- ctx.stage_history: every stage set, in order (the transition step).
local current_stage
ctx.stage_history = {}
local transitions = {}
G.Stage = {
  set = function(name)
    if type(name) ~= "string" then error("Stage.set: expected a stage name", 2) end
    T.call("stage.set", { name = name })
    transitions[#transitions + 1] = { from_stage = current_stage, to_stage = name, timestamp = T.now() }
    current_stage = name
    ctx.stage_history[#ctx.stage_history + 1] = name
  end,
  current = function() return current_stage end,
  is = function(name) return current_stage == name end,
  history = function() return ctx.deep_copy(transitions) end,
  count = function() return #transitions end,
  clear_history = function() transitions = {} end,
}

-- Mocks ----------------------------------------------------------------------
G.Mocks = function(spec)
  if type(spec) ~= "table" then error("Mocks expects a table", 2) end
  for name, m in pairs(spec) do ctx.mocks[name] = m end
end

-- Whether calls of NAME (a tool, agent, model or classifier) are mocked:
-- --real NAME never; --mock-all, --mock NAME and a `tactus-run test`
-- Given step (ctx.scenario_mocks, spec.lua) do.
function ctx.is_mocked(name)
  if ctx.real_names[name] then return false end
  return ctx.mock_all or ctx.mock_names[name] ~= nil
    or (ctx.scenario_mocks ~= nil and ctx.scenario_mocks[name] ~= nil)
end

-- The answer of `run --mock NAME` for a tool no Mocks entry answers (as
-- Tactus's CLI registers it).
function ctx.mock_placeholder(name)
  return { mocked = true, tool = name, message = "Mock response for " .. tostring(name) }
end

-- The answer of a mock entry for a call with ARGS; nil when none applies.
function ctx.mock_answer(name, args)
  local m = ctx.mocks[name]
  if m == nil then return nil end
  if type(m) ~= "table" then return true, m end
  if m.temporal then
    ctx.mock_calls = ctx.mock_calls or {}
    local n = (ctx.mock_calls[name] or 0) + 1
    ctx.mock_calls[name] = n
    local list = m.temporal
    local v = list[n] or list[#list]
    if type(v) == "table" and v.returns ~= nil then v = v.returns end
    return true, v
  end
  if m.conditional then
    for _, case in ipairs(m.conditional) do
      local match = true
      for k, want in pairs(case.when or {}) do
        if type(args) ~= "table" or args[k] ~= want then match = false break end
      end
      if match then return true, case.returns end
    end
    if m.returns ~= nil then return true, m.returns end
    return nil
  end
  if m.returns ~= nil then return true, m.returns end
  return nil
end

-- Model { type = "mock" } ---------------------------------------------------------
local models = {}
local function model_handle(name, spec)
  return setmetatable({ name = name }, {
    __call = function(self, input)
      -- x = Model {...} renames the handle (ctx.on_assign): mocks use that name.
      local ok, v
      local mname = rawget(self, "name") or name
      if ctx.is_mocked(mname) then
        ok, v = ctx.mock_answer(mname, input)
        if not ok and ctx.mock_names[mname] then ok, v = true, ctx.mock_placeholder(mname) end
      end
      if ok then return { output = v } end
      if spec.type == "mock" then
        local value = spec.value
        if value == nil then value = spec.output end
        if type(value) == "function" then value = value(input) end
        return { output = value }
      end
      error({ type = "UnsupportedModel", message = "Model '" .. name .. "': type '" .. tostring(spec.type)
        .. "' is not available in tactus-run (only type = \"mock\")" }, 2)
    end,
  })
end
G.Model = setmetatable({}, {
  __call = function(_, arg)
    if type(arg) == "string" then
      if models[arg] then return models[arg] end
      -- Model "name" { ... } (curried declaration)
      return function(spec)
        if type(spec) ~= "table" then error("Model '" .. arg .. "': expected a table", 2) end
        models[arg] = model_handle(arg, spec)
        return models[arg]
      end
    end
    if type(arg) ~= "table" then error("Model expects a name or a table", 2) end
    local handle = model_handle(arg.name or "model", arg)
    ctx.pending_models = ctx.pending_models or {}
    ctx.pending_models[handle] = arg
    if arg.name then models[arg.name] = handle end
    return handle
  end,
})
ctx.models = models

-- Declarations for `tactus-run test` / `eval`, inert during `run` ----------------
G.Specification = function(text) ctx.specs[#ctx.specs + 1] = text end
G.Specifications = G.Specification
G.Evaluation = function(spec) ctx.evaluations[#ctx.evaluations + 1] = spec end
G.Evaluations = G.Evaluation

-- Settings some files set at top level; recorded, not acted on.
for _, name in ipairs({ "default_provider", "default_model", "return_prompt", "error_prompt",
    "status_prompt", "max_depth", "max_turns", "async" }) do
  G[name] = function(v) ctx.settings = ctx.settings or {}; ctx.settings[name] = v end
end
