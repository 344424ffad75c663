-- The Tactus runtime inside the VM.  Called once with T, the table of C
-- primitives (vm/lib_tactus.c); returns the process exit status.
--
-- Execution follows Tactus: the chunk runs first (declarations: Procedure,
-- Tool, Agent, Mocks, Specification...); then the main procedure's function
-- is called with the validated input.  Without a Procedure the chunk itself
-- is the procedure (script mode) and its return value is the result.
local T = ...

local type, pairs, ipairs, tostring, error, pcall, xpcall, setmetatable, rawget, rawset, select =
  type, pairs, ipairs, tostring, error, pcall, xpcall, setmetatable, rawget, rawset, select
local getmetatable, next, format = getmetatable, next, string.format
local tconcat = table.concat
local real_G = _G

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

local function emit(event_type, fields)
  fields = fields or {}
  fields.event_type = event_type
  fields.timestamp = T.now()
  T.notify("events.emit", { event = fields })
end

-- The pause (a Human request nobody is there to answer) is an error value
-- marked __waiting: it must reach the top and end the run as "waiting".
local function is_waiting(e)
  return type(e) == "table" and rawget(e, "__waiting") == true
end

-- pcall / xpcall / coroutine.resume for user code: they catch errors as
-- usual, but a pause goes through them (re-raised), so
-- `pcall(Human.approve, ...)` still pauses the run.
--
-- A primitive that raises with a level (error(msg, 2)), passed straight to
-- pcall, blames its caller: LuaJIT's pcall has no frame of its own, so that
-- was the user's line; here it is the wrapper's.  The wrapper's prefix
-- (probed below) is replaced by the user's line (T.where: the innermost
-- frame of a .tac chunk).
local PCALL_AT, XPCALL_AT

-- Errors of the primitives are one shape: a table with `type` and
-- `message` (T.call's broker errors, require, File.*, Host.call...), whose
-- tostring is "Type: message" (not "table: 0x...").  Given to the tables
-- as they reach user code (pcall, xpcall, coroutine.resume) and the top.
local ERROR_MT = {
  __tostring = function(e)
    return tostring(rawget(e, "type")) .. ": " .. tostring(rawget(e, "message"))
  end,
}
local function shape(e)
  if type(e) == "table" and getmetatable(e) == nil and type(rawget(e, "type")) == "string"
      and type(rawget(e, "message")) == "string" then
    setmetatable(e, ERROR_MT)
  end
  return e
end

-- A value as text without running any of its metamethods (it may be the
-- user's table): JSON-like, keys sorted, bounded.
local function render(v, depth)
  local t = type(v)
  if t == "string" then return format("%q", #v > 200 and v:sub(1, 200) .. "..." or v) end
  if t == "number" or t == "boolean" or t == "nil" then return tostring(v) end
  if t ~= "table" then return "<" .. t .. ">" end
  if depth > 3 then return "{...}" end
  local keys, n = {}, 0
  for k in next, v do
    n = n + 1
    if n > 20 then break end
    keys[n] = k
  end
  local function key_text(k)
    return type(k) == "string" and k or type(k) == "number" and tostring(k) or "~" .. type(k)
  end
  table.sort(keys, function(a, b) return key_text(a) < key_text(b) end)
  local parts = {}
  for i, k in ipairs(keys) do
    local key = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or "[" .. render(k, depth + 1) .. "]"
    parts[i] = key .. " = " .. render(rawget(v, k), depth + 1)
  end
  if n > 20 then parts[#parts + 1] = "..." end
  return "{ " .. tconcat(parts, ", ") .. (#parts > 0 and " }" or "}")
end

local function reblame(e, at)
  if at and type(e) == "string" and e:sub(1, #at) == at then
    local src, line = T.where()
    if src then return src .. ":" .. tostring(line) .. ": " .. e:sub(#at + 1) end
    return e:sub(#at + 1)
  end
  return e
end
local function after_pcall(ok, ...)
  if ok then return true, ... end
  local e = ...
  if is_waiting(e) then error(e, 0) end
  return false, shape(reblame(e, PCALL_AT))
end
local function user_pcall(f, ...)
  return after_pcall(pcall(f, ...))
end
local function user_xpcall(f, handler, ...)
  local pause
  local function h(e)
    if is_waiting(e) then pause = e return e end
    return handler(shape(reblame(e, XPCALL_AT)))
  end
  local function after(ok, ...)
    if not ok and pause ~= nil then error(pause, 0) end
    return ok, ...
  end
  return after(xpcall(f, h, ...))
end
local function user_resume(co, ...)
  local function after(ok, ...)
    if not ok and is_waiting((...)) then error((...), 0) end
    if not ok then return ok, shape((...)) end
    return ok, ...
  end
  return after(coroutine.resume(co, ...))
end
do
  -- Level 3: probe, then pcall / xpcall (a frame without a line), then the wrapper.
  local function probe() error("", 3) end
  local _, p = user_pcall(probe)
  PCALL_AT = type(p) == "string" and p:match("^[^@]-:%d+: $") or nil
  _, p = user_xpcall(probe, function(m) return m end)
  XPCALL_AT = type(p) == "string" and p:match("^[^@]-:%d+: $") or nil
end

-- Library tables are copied per run, so a script that rewrites string.format
-- changes only its own copy; rawset/rawget refuse them.
local function install_builtins(ctx, G)
  for _, name in ipairs({ "assert", "error", "ipairs", "next", "pairs", "select",
      "tonumber", "tostring", "type", "unpack", "getmetatable", "setmetatable",
      "rawequal", "collectgarbage" }) do
    G[name] = real_G[name]
  end
  G.pcall, G.xpcall = user_pcall, user_xpcall
  for _, lib in ipairs({ "string", "table", "math", "coroutine", "bit" }) do
    G[lib] = copy(real_G[lib])
    ctx.protected[G[lib]] = true
  end
  G.coroutine.resume = user_resume
  G.os = copy(T.os)
  ctx.protected[G.os] = true
  G._VERSION = _VERSION
  G.rawget = function(t, k)
    if ctx.protected[t] then error("rawget: protected table", 2) end
    return rawget(t, k)
  end
  G.rawset = function(t, k, v)
    if ctx.protected[t] then error("rawset: protected table", 2) end
    return rawset(t, k, v)
  end
  G.print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    emit("log", { level = "INFO", message = tconcat(parts, "\t"), logger_name = "print" })
  end
end

-- The user environment: reads of unknown globals fail with file and line;
-- assigning a DSL handle to a global (x = Tool {...}) names it.
local function make_env(ctx)
  local G = ctx.G
  local env
  env = setmetatable({}, {
    __index = function(_, k)
      local v = G[k]
      if v == nil then
        local known = {}
        for name in pairs(G) do known[#known + 1] = name end
        for name in pairs(env) do known[#known + 1] = name end
        table.sort(known, function(a, b) return tostring(a) < tostring(b) end)
        error(ctx.unknown_global(k, known), 2)
      end
      return v
    end,
    __newindex = function(t, k, v)
      if type(v) == "table" then ctx.on_assign(k, v) end
      rawset(t, k, v)
    end,
    __metatable = false,
  })
  G._G = env
  ctx.protected[env] = nil
  return env
end

-- Library modules of vm/lua that hold no run state (value, literal,
-- similarity, regex, gherkin, luascan): each is loaded once, called with
-- (T, lib), and shared by every runtime of the VM.
local libs = {}
local function lib(name)
  local m = libs[name]
  if m == nil then
    m = T.builtin(name)(T, lib)
    libs[name] = m
  end
  return m
end

local new_context

-- Build a runtime: the shared context of the DSL modules and the globals.
-- usage: the table agent calls add their tokens and cost to (agent.lua);
-- a sub-procedure shares its caller's, so a run's usage counts them all.
new_context = function(params, shared, usage)
  local ctx = {
    usage = usage or { prompt_tokens = 0, completion_tokens = 0, total_tokens = 0, cost = 0, calls = 0 },
    T = T, lib = lib, emit = emit, G = {}, params = params or {},
    procedures = {}, unnamed = {}, tools = {}, mocks = {}, specs = {}, steps = {},
    evaluations = {}, state = {}, iterations = 0, tools_used = {},
    mock_all = shared.mock_all, checkpoints = shared.checkpoints,
    mock_names = shared.mock_names, real_names = shared.real_names,
    procedure_name = shared.procedure_name, procedure_dir = shared.procedure_dir,
    mcp_servers = shared.mcp_servers,
    names = setmetatable({}, { __mode = "k" }),
    protected = setmetatable({}, { __mode = "k" }),
    is_waiting = is_waiting, error_mt = ERROR_MT,
  }
  -- procedure_dir: the sub-procedure's directory in the workspace (its
  -- relative paths' base), when it comes from another file.
  function ctx.sub_runtime(share_usage, procedure_dir)
    local sub_shared = shared
    if procedure_dir ~= nil then
      sub_shared = copy(shared)
      sub_shared.procedure_dir = procedure_dir
    end
    local sub = new_context(nil, sub_shared, share_usage and ctx.usage or nil)
    return {
      env = sub.env,
      usage = function() return sub.usage end,
      run = function(chunk, sub_params)
        sub.params = sub_params
        return sub.execute(chunk)
      end,
    }
  end
  install_builtins(ctx, ctx.G)
  for _, name in ipairs({ "paths", "schema", "runtime", "tools", "external", "modules", "agent", "classify", "history", "compat" }) do
    T.builtin(name)(ctx)
  end
  ctx.make_strict()
  ctx.env = make_env(ctx)
  -- Run a loaded chunk as a procedure; returns its result or raises.
  function ctx.execute(chunk)
    local result = chunk()
    local main = ctx.find_main()
    if main then return ctx.run_main(main) end
    return ctx.finish_script(result)
  end
  return ctx
end

-- The run's error as the host shows it.  WHERE: the user's file:line
-- when it was raised (T.where in the handler, the stack intact); BY_USER:
-- the user's own error(...) raised it.  An error raised inside a primitive
-- points at the user's code: a position in our own modules
-- ("tactus/schema:222: ") is replaced by WHERE, and a typed table gets
-- `where` (the launcher puts it in front: "x.tac:6: ConnectionError: ...").
-- A table without a message is shown, rendered (error({code = 42})), at
-- WHERE.  A table the user raised with a message stays as written.
local function error_info(err, where, by_user)
  if is_waiting(err) then
    return { type = "WaitingForHuman", message = T.error_text(err) }
  end
  local typ = type(err) == "table" and rawget(err, "type")
  local msg = T.error_text(err)
  local info = { type = type(typ) == "string" and typ or "RuntimeError", message = msg }
  if type(err) == "table" and type(rawget(err, "message")) ~= "string" then
    info.message = "error object " .. render(err, 0)
    info.where = where
  elseif where and type(err) == "string" then
    local rest = msg:match("^tactus/[%w_]+:%d+: (.*)$")
    if rest then info.message = where .. ": " .. rest end
  elseif where and type(err) == "table" and not by_user and msg:sub(1, #where + 1) ~= where .. ":" then
    info.where = where
  end
  return info
end

local function finish(ctx, status, result, err, trace, where, by_user)
  local params = { status = status, state = ctx and ctx.state, iterations = ctx and ctx.iterations,
                   tools_used = ctx and ctx.tools_used }
  if err then
    params.error = error_info(err, where, by_user)
    params.error.traceback = trace
  end
  params.result = result
  -- The output schema's field names in declaration order: the CLI shows
  -- the result's keys in that order.
  if ctx and ctx.schema_order then
    local ok, order = pcall(ctx.schema_order, ctx.output_schema)
    if ok then params.output_order = order end
  end
  local ok, e = pcall(T.notify, "run.finish", params)
  if not ok then
    -- The result or state cannot be sent (a function inside, say).
    T.notify("run.finish", { status = "error", error = { type = "EncodeError",
      message = "the result or state cannot be sent to the host: " .. T.error_text(e) } })
    return 1
  end
  if status == "success" or status == "waiting" then return 0 end
  return 1
end

local function set_of(list)
  local set = {}
  if type(list) == "table" then
    for _, name in ipairs(list) do if type(name) == "string" then set[name] = true end end
  end
  return set
end

local function main()
  local start = T.call("run.start", {})
  local ctx = new_context(start.params, {
    mock_all = start.mock_all and true or false,
    -- run --mock NAME / --real NAME: names mocked, names never mocked.
    mock_names = set_of(start.mock), real_names = set_of(start.real),
    checkpoints = start.checkpoints or {},
    procedure_name = start.procedure_name,
    procedure_dir = start.procedure_dir,
    mcp_servers = start.mcp_servers,
  })

  local chunk, lerr = T.load(T.source, "@" .. T.chunkname, ctx.env)
  if not chunk then
    return finish(ctx, "error", nil, { type = "SyntaxError", message = lerr })
  end
  -- `tactus-run test` / `eval` run the file in another mode (vm/lua/spec.lua):
  -- list the scenarios, or run one scenario, and report through run.finish.
  -- `validate` / `info`: what the file declares, run dry (inspect.lua).
  if start.mode and start.mode ~= "run" then
    local module = start.mode == "inspect" and "inspect" or "spec"
    local ok, result = xpcall(function() return T.builtin(module)(ctx, chunk, start) end,
      function(e) return type(e) == "string" and T.traceback(e, 2) or e end)
    if ok then return finish(ctx, "success", result) end
    return finish(ctx, "error", nil, result)
  end
  local trace, where, by_user
  ctx.cli_params = true -- the parameters are the command line's --param (schema.lua)
  local ok, result = xpcall(function() return ctx.execute(chunk) end, function(e)
    if type(e) == "string" then trace = T.traceback(e, 2) end
    local src, line = T.where()
    if src then where = src .. ":" .. tostring(line) end
    by_user = T.raised_by_user()
    return e
  end)
  if ok then return finish(ctx, "success", result) end
  if is_waiting(result) then
    return finish(ctx, "waiting", nil, result)
  end
  return finish(ctx, "error", nil, result, trace, where, by_user)
end

local ok, code = xpcall(main, function(e) return T.traceback(T.error_text(e), 2) end)
if not ok then
  pcall(T.notify, "run.finish", { status = "error", error = { type = "InternalError", message = tostring(code) } })
  return 1
end
return code
