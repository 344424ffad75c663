-- Tools: x = Tool { description, input, function(args) ... end },
-- Tool { use = "host.<name>" } for brokered host tools, Toolset, the done
-- tool, and Tool.called/last_call/last_result(name).
local ctx = ...
local G, T = ctx.G, ctx.T
local type, pairs, ipairs, tostring, error, pcall, setmetatable, rawget =
  type, pairs, ipairs, tostring, error, pcall, setmetatable, rawget

local HANDLE = {} -- marks tool handles: handle -> tool record

local function record_call(tool, args, result)
  tool.calls[#tool.calls + 1] = { name = tool.name, args = args, result = result }
  tool.last = tool.calls[#tool.calls]
  local used = ctx.tools_used
  local seen = false
  for i = 1, #used do if used[i] == tool.name then seen = true break end end
  if not seen then used[#used + 1] = tool.name end
end

-- Host tools run in the broker, which enforces the policy (deny by default).
function ctx.call_host_tool(name, args)
  if ctx.is_mocked(name) then
    local ok, v = ctx.mock_answer(name, args)
    if ok then return v end
    if ctx.mock_names[name] then return ctx.mock_placeholder(name) end
    return { mocked = true, tool = name }
  end
  local reply = T.call("tool.call", { name = name, args = args })
  return reply.result
end

local function invoke(tool, args)
  if args == nil then args = {} end
  if type(args) ~= "table" then
    error("tool '" .. tostring(tool.name) .. "': arguments must be a table", 3)
  end
  if tool.input then
    args = ctx.validate_input(tool.input, args, "tool '" .. tostring(tool.name) .. "' argument")
  end
  local t0 = T.monotonic()
  local result
  local ok, mocked = false, nil
  -- Mocks {} entries apply in mock mode only (--mock-all, --mock NAME,
  -- tactus-run test --mock), as in Tactus; a plain run calls the real tool.
  if ctx.is_mocked(tool.name) then
    ok, mocked = ctx.mock_answer(tool.name, args)
    if not ok and ctx.mock_names[tool.name] then ok, mocked = true, ctx.mock_placeholder(tool.name) end
  end
  if ok then
    result = mocked
  elseif tool.host then
    result = ctx.call_host_tool(tool.host, args)
  elseif tool.mcp then
    result = ctx.call_mcp_tool(tool.mcp.server, tool.mcp.tool, args)
  else
    result = tool.fn(args)
  end
  record_call(tool, args, result)
  ctx.emit("tool_call", { agent_name = ctx.current_agent, tool_name = tool.name, tool_args = args, tool_result = result,
    duration_ms = (T.monotonic() - t0) * 1000 })
  return result
end

local function new_handle(tool)
  local methods = {
    called = function() return #tool.calls > 0 end,
    call_count = function() return #tool.calls end,
    last_call = function() return tool.last end,
    last_result = function() return tool.last and tool.last.result end,
    calls = function() return tool.calls end,
    reset = function() tool.calls = {}; tool.last = nil end,
  }
  local handle = setmetatable({}, {
    __index = function(_, k)
      if k == "name" then return tool.name end
      if k == "description" then return tool.description end
      if k == "input" then return tool.input end
      if k == "input_schema" then return tool.input_schema end
      return methods[k]
    end,
    __call = function(_, args) return invoke(tool, args) end,
    __newindex = function() error("tool handles are read-only", 2) end,
  })
  HANDLE[handle] = tool
  return handle
end

local function register(tool, handle)
  if tool.name then
    if ctx.tools[tool.name] and ctx.tools[tool.name] ~= handle then
      error("Tool '" .. tool.name .. "' is declared twice", 3)
    end
    ctx.tools[tool.name] = handle
  end
end

function ctx.tool_record(handle) return HANDLE[handle] end


local function declare_tool(spec, level)
  if type(spec) ~= "table" then
    error("Tool expects a table: x = Tool { description = ..., input = {...}, function(args) ... end }", level + 1)
  end
  local fn = spec[#spec]
  if type(fn) ~= "function" then fn = spec.handler or spec["function"] end
  local host
  if type(spec.use) == "string" then
    host = spec.use:match("^host%.(.+)$") and spec.use or nil
    local server, mtool = spec.use:match("^mcp%.([^%.]+)%.(.+)$")
    if server and ctx.is_mcp_server(server) then
      -- Tool { use = "mcp.server.tool" }: that MCP tool under this name.
      local tool = { name = spec.name, description = spec.description, mcp = { server = server, tool = mtool },
                     calls = {} }
      local handle = new_handle(tool)
      register(tool, handle)
      return handle
    end
    if not host then
      error("Tool: use = '" .. spec.use .. "' is not available; brokered host tools are named 'host.<name>', "
        .. "MCP tools 'mcp.<server>.<tool>' (a server of mcp_servers in the config)", level + 1)
    end
  elseif type(fn) ~= "function" then
    error("Tool: the last element must be the handler function(args) ... end", level + 1)
  end
  local tool = { name = spec.name, description = spec.description, input = spec.input, fn = fn,
                 host = host, calls = {} }
  local handle = new_handle(tool)
  register(tool, handle)
  return handle
end

G.Tool = setmetatable({
  called = function(name) local h = ctx.tools[name]; return h ~= nil and h.called() end,
  last_call = function(name) local h = ctx.tools[name]; return h and h.last_call() end,
  last_result = function(name) local h = ctx.tools[name]; return h and h.last_result() end,
  get = function(name)
    if ctx.tools[name] == nil and type(name) == "string" and ctx.find_mcp_tool then return ctx.find_mcp_tool(name) end
    return ctx.tools[name]
  end,
  reset = function(name)
    if name == nil then
      for _, h in pairs(ctx.tools) do h.reset() end
      return
    end
    local h = ctx.tools[name]
    if h then h.reset() end
  end,
}, {
  __call = function(_, spec)
    if type(spec) == "string" then
      error("Tool \"" .. spec .. "\" { ... } is the old curried syntax; write " .. spec
        .. " = Tool { ... }", 2)
    end
    return declare_tool(spec, 2)
  end,
})

-- Toolset "name" { tools = {...} } or x = Toolset { tools = {...} }
local toolsets = {}
-- A tool written inline in a toolset ({ name =, description =, input =,
-- handler = }) is a Tool named <toolset>_<name>, as in Tactus.
local function declare_toolset(name, spec, level)
  if type(spec) ~= "table" then error("Toolset expects a table", level + 1) end
  local list = {}
  for i, t in ipairs(spec.tools or {}) do
    if type(t) == "table" and not HANDLE[t] then
      if type(t.name) ~= "string" then
        error("Toolset " .. tostring(name) .. ": tools[" .. i .. "] needs a name", level + 1)
      end
      local def = {}
      for k, v in pairs(t) do def[k] = v end
      def.name = name and (name .. "_" .. t.name) or t.name
      t = declare_tool(def, level + 1)
    end
    list[#list + 1] = t
  end
  local set = { name = name, tools = list, use = spec.use, description = spec.description }
  if name then toolsets[name] = set end
  return set
end
G.Toolset = setmetatable({ get = function(name) return toolsets[name] end }, {
  __call = function(_, a)
    if type(a) == "string" then
      return function(spec) return declare_toolset(a, spec, 2) end
    end
    return declare_toolset(a and a.name, a, 2)
  end,
})
ctx.toolsets = toolsets

-- A tool of an MCP server (external.lua lists them): named SERVER_TOOL as
-- Tactus names them, its JSON Schema passed to models as it is, run by the
-- broker (mcp.call_tool) under the policy.  A Tool the file declares under
-- the same name keeps it.
function ctx.new_mcp_tool(server, t)
  local name = server .. "_" .. tostring(t.name)
  if ctx.tools[name] then return ctx.tools[name] end
  local tool = { name = name, description = t.description or name, input_schema = t.inputSchema,
                 mcp = { server = server, tool = t.name }, calls = {} }
  local handle = new_handle(tool)
  ctx.tools[name] = handle
  return handle
end

-- The done tool (require("tactus.tools.done")): an agent calls it to end.
local done_handle
function ctx.done_tool()
  if done_handle == nil then
    local tool = { name = "done", description = "Signal that the task is complete, with the reason or final answer.",
      input = { reason = G.field.string { required = false, description = "why the task is done / the answer" } },
      fn = function(args) return { status = "completed", reason = args.reason or "Task completed", tool = "done" } end,
      calls = {} }
    done_handle = new_handle(tool)
    ctx.tools.done = done_handle
  end
  return done_handle
end

-- x = Tool {...}: the global's name becomes the tool's name (as Tactus's
-- assignment interception does).  Same for Agents, Models, Procedures.
function ctx.on_assign(name, value)
  local tool = HANDLE[value]
  if tool then
    if tool.name == nil then
      tool.name = name
      register(tool, value)
    end
    return
  end
  if ctx.on_assign_agent and ctx.on_assign_agent(name, value) then return end
  local proc = ctx.names[value]
  -- main = Procedure { ... } is the main procedure (current Tactus's entry
  -- form), not a sub-procedure named main.
  if proc and name == "main" then return end
  if proc and proc.name == nil then
    proc.name = name
    for i = #ctx.unnamed, 1, -1 do
      if ctx.unnamed[i] == proc then table.remove(ctx.unnamed, i) end
    end
    ctx.procedures[name] = proc
    return
  end
  if ctx.pending_models and ctx.pending_models[value] then
    rawset(value, "name", name)
    ctx.models[name] = value
  end
end

-- The log tool (require("tactus.tools.log")): an agent logs a message.
local log_handle
function ctx.log_tool()
  if log_handle == nil then
    local f = G.field
    log_handle = declare_tool({ name = "log", description = "Log a message during the procedure's execution",
      input = { message = f.string { required = true, description = "Message to log" },
                level = f.string { required = false, description = "debug, info, warn or error" },
                data = f.object { required = false, description = "Data to include" } },
      handler = function(args)
        local level = args.level or "info"
        local log = ({ debug = G.Log.debug, warn = G.Log.warn, warning = G.Log.warn, error = G.Log.error })[level]
          or G.Log.info
        log(args.message, args.data or {})
        return { logged = true, level = level, message = args.message }
      end }, 1)
  end
  return log_handle
end
