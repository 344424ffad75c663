-- Agents: x = Agent { model, system_prompt, initial_message, tools, temperature,
-- max_tokens, top_p, max_turns, output }, called as x() or x({ message =, context =,
-- tools =, temperature =, max_tokens =, top_p = }).
--
-- Each call is one agent turn.  The model is called through the broker's
-- llm.chat (the API key never enters the sandbox).  When the model calls a
-- tool, the Lua tool runs here, its result goes back to the model, and the
-- turn continues until the model answers without tools, the done tool is
-- called, or max_turns model calls were made.  In mock mode (--mock-all)
-- the turn is scripted -- by the agent's Mocks { name = { message =,
-- tool_calls = } } entry, else a default answer -- and no model is called;
-- the trace has the same shape.  As in Tactus, a Mocks entry alone does not
-- mock an agent: without --mock-all the model is called.
local ctx = ...
local G, T = ctx.G, ctx.T
local type, pairs, ipairs, tostring, error, pcall, setmetatable, rawget, select =
  type, pairs, ipairs, tostring, error, pcall, setmetatable, rawget, select
-- (pcall here is the VM's own; user code gets one that cannot catch a pause.)

local AGENT = {}         -- handle -> agent record
local by_name = {}
local DEFAULT_MAX_TURNS = 10

-- {input.x} and {state.x} in prompts.
local function render(template)
  if type(template) ~= "string" then return template end
  return (template:gsub("{(%a+)%.([%w_%.]+)}", function(scope, path)
    local root
    if scope == "input" then root = G.input elseif scope == "state" then root = ctx.state else return nil end
    local v = root
    for part in path:gmatch("[^%.]+") do
      if type(v) ~= "table" then v = nil break end
      v = v[part]
    end
    if v == nil then return "" end
    if type(v) == "table" then return T.json_encode(v) end
    return tostring(v)
  end))
end

local JSON_TYPES = { string = "string", number = "number", integer = "integer", boolean = "boolean",
                     array = "array", object = "object" }

local function parameters_schema(input)
  local props, required = {}, {}
  for name, f in pairs(input or {}) do
    if ctx.is_field(f) then
      local p = { type = JSON_TYPES[f.kind], description = f.description, enum = f.enum }
      if f.kind == "array" then p.items = {} end
      props[name] = p
      if f.required then required[#required + 1] = name end
    end
  end
  table.sort(required)
  local schema = { type = "object", properties = props }
  if #required > 0 then schema.required = required end
  return schema
end

-- The agent's tools as handles, by name.
local function resolve_tools(list)
  local out, order = {}, {}
  local function add_all(handles)
    for _, h in ipairs(handles) do
      if h and h.name and not out[h.name] then out[h.name] = h; order[#order + 1] = h end
    end
  end
  for _, t in ipairs(list or {}) do
    local handle = t
    local set = type(t) == "string" and ctx.toolsets[t] or (type(t) == "table" and t.use and t) or nil
    if type(t) == "string" then handle = ctx.tools[t] end
    if handle == nil and set then
      -- Toolset { use = "mcp.server" }: the server's tools; else its own list.
      local server = ctx.mcp_server_of(set.use)
      if server then
        add_all(ctx.mcp_toolset(server))
      else
        for _, inner in ipairs(set.tools or {}) do
          local h = type(inner) == "string" and (ctx.tools[inner] or ctx.find_mcp_tool(inner)) or inner
          if h and h.name then add_all({ h }) end
        end
      end
    elseif handle == nil and ctx.mcp_server_of(t) then
      -- An MCP server's name (or mcp.NAME), as Tactus registers its toolset.
      add_all(ctx.mcp_toolset(ctx.mcp_server_of(t)))
    elseif handle == nil and type(t) == "string" then
      handle = ctx.find_mcp_tool(t)
    end
    if handle and ctx.tool_record(handle) then
      add_all({ handle })
    elseif type(t) == "string" and handle == nil and set == nil and not ctx.mcp_server_of(t) then
      error("Agent: unknown tool '" .. t .. "'", 4)
    end
  end
  return out, order
end

local function openai_tools(order)
  local list = {}
  for _, h in ipairs(order) do
    list[#list + 1] = { type = "function", ["function"] = {
      name = h.name, description = h.description or h.name,
      parameters = h.input_schema or parameters_schema(h.input) } }
  end
  return list
end

-- Only the tools offered to this agent (its tools list, done included when
-- listed) may run: a call to any other name, even a Tool the file declares,
-- goes back to the model as an error result and is logged.
local function run_tool_call(agent, tools, name, args)
  local handle = tools[name]
  if handle == nil then
    local why = "tool " .. tostring(name) .. " is not available to this agent"
    ctx.emit("log", { level = "WARNING", message = "agent " .. tostring(agent.name) .. ": the model called tool "
      .. tostring(name) .. ", which is not available to this agent; it did not run", logger_name = "agent" })
    return { error = why }, false
  end
  -- tool_call events name the agent that asked (tools.lua reads this).
  local outer = ctx.current_agent
  ctx.current_agent = agent.name
  local ok, result = pcall(handle, args)
  ctx.current_agent = outer
  if not ok then
    -- A pause (a tool asked a human nobody is there to answer) ends the run.
    if ctx.is_waiting(result) then error(result, 0) end
    return { error = T.error_text(result) }, false
  end
  return result, name == "done"
end

-- Token counts, and the cost when every reply reported one (usage.cost, as
-- OpenRouter and LiteLLM give it); cost = nil means unknown.
local function new_usage()
  return { prompt_tokens = 0, completion_tokens = 0, total_tokens = 0, cost = 0 }
end

local function reply_cost(u)
  if type(u) ~= "table" then return nil end
  local c = u.cost
  if type(c) ~= "number" then c = u.total_cost end
  if type(c) == "number" and c >= 0 then return c end
  return nil
end

local function add_usage(total, u, cost)
  if type(u) == "table" then
    for _, k in ipairs({ "prompt_tokens", "completion_tokens", "total_tokens" }) do
      if type(u[k]) == "number" then total[k] = total[k] + u[k] end
    end
  end
  if cost == nil or total.cost == nil then total.cost = nil else total.cost = total.cost + cost end
end

-- The run's usage (ctx.usage, prelude.lua), every agent call summed (eval's
-- max_tokens / max_cost).
local function count_usage(u, cost)
  add_usage(ctx.usage, u, cost)
  ctx.usage.calls = ctx.usage.calls + 1
end

local function user_message(agent, opts, injected)
  local text = opts.message
  if text == nil and agent.turns == 0 then text = agent.spec.initial_message end
  if text == nil and agent.turns == 0 and not injected then text = "Start." end
  if text == nil then return nil end
  text = render(text)
  if type(opts.context) == "table" then
    text = text .. "\n\nContext:\n" .. T.json_encode(opts.context, true)
  elseif opts.context ~= nil then
    text = text .. "\n\nContext: " .. tostring(opts.context)
  end
  return { role = "user", content = text }
end

-- One scripted turn from a Mocks entry (or the deterministic default).
local function mock_turn(agent, tools, usage)
  local m = ctx.mocks[agent.name]
  if type(m) == "table" and m.temporal then
    local list = m.temporal
    m = list[agent.turns + 1] or list[#list]
  end
  local message, calls, data
  if type(m) == "table" then
    message, calls, data = m.message or m.response, m.tool_calls, m.data
  elseif type(m) == "string" then
    message = m
  end
  if message == nil and calls == nil and data == nil then
    message = "Mock response from " .. agent.name .. "."
    -- As Tactus's mock agents: every agent calls done on its first turn,
    -- whether or not done is among its tools (and, here, on every turn
    -- when it is, so a loop until done.called() ends).  A Classify's own
    -- agent does not.
    if not agent.spec.internal and (tools.done or agent.turns == 0) then
      calls = { { tool = "done", args = { reason = message } } }
      if not tools.done then
        local with_done = { done = ctx.done_tool() }
        for k, v in pairs(tools) do with_done[k] = v end
        tools = with_done
      end
    end
  end
  if message then
    ctx.emit("agent_stream_chunk", { agent_name = agent.name, chunk_text = message, accumulated_text = message })
    agent.history[#agent.history + 1] = { role = "assistant", content = message }
  end
  local results = {}
  for _, c in ipairs(calls or {}) do
    local result = run_tool_call(agent, tools, c.tool or c.name, c.args or {})
    results[#results + 1] = { tool = c.tool or c.name, args = c.args or {}, result = result }
  end
  count_usage(nil, 0)
  ctx.emit("cost", { agent_name = agent.name, model = agent.spec.model, provider = "mock",
    prompt_tokens = 0, completion_tokens = 0, total_tokens = 0, total_cost = 0, cost_reported = true,
    cost_source = "mock", latency_ms = 0 })
  return message or "", results, usage, data
end

-- opts: the call's overrides of temperature, max_tokens, top_p (Tactus).
local function model_turn(agent, tools, order, usage, opts)
  local spec = agent.spec
  local max_turns = spec.max_turns or DEFAULT_MAX_TURNS
  local text, results = "", {}
  local offered = #order > 0 and openai_tools(order) or nil
  local finished = false
  for _ = 1, max_turns do
    local messages = {}
    if spec.system_prompt then messages[1] = { role = "system", content = render(spec.system_prompt) } end
    for _, m in ipairs(agent.history) do messages[#messages + 1] = m end
    local t0 = T.monotonic()
    -- The broker picks the provider from the model string (openai/...,
    -- anthropic/..., google/..., bedrock/...) or Tactus's older provider key.
    local reply = T.call("llm.chat", {
      provider = spec.provider, model = spec.model, model_type = spec.model_type,
      messages = messages, tools = offered,
      stream = not spec.disable_streaming,
      temperature = opts.temperature == nil and spec.temperature or opts.temperature,
      max_tokens = opts.max_tokens or spec.max_tokens, top_p = opts.top_p == nil and spec.top_p or opts.top_p,
      agent_name = agent.name,
    })
    local cost = reply_cost(reply.usage)
    add_usage(usage, reply.usage, cost)
    count_usage(reply.usage, cost)
    local u = type(reply.usage) == "table" and reply.usage or {}
    -- Without a cost in the reply, total_cost is absent (unknown, not 0).
    ctx.emit("cost", { agent_name = agent.name, model = spec.model, provider = reply.provider or "openai",
      prompt_tokens = u.prompt_tokens or 0, completion_tokens = u.completion_tokens or 0,
      total_tokens = u.total_tokens or 0, total_cost = cost, cost_reported = cost ~= nil,
      cost_source = cost ~= nil and (u.cost_source or "provider") or "unknown",
      latency_ms = (T.monotonic() - t0) * 1000 })
    text = reply.text or ""
    local calls = reply.tool_calls
    agent.history[#agent.history + 1] = { role = "assistant", content = text ~= "" and text or nil, tool_calls = calls }
    if type(calls) ~= "table" or #calls == 0 then finished = true break end
    for _, c in ipairs(calls) do
      local fn = c["function"] or {}
      local ok, args = pcall(T.json_decode, fn.arguments ~= "" and fn.arguments or "{}")
      local result, is_done
      if not ok or type(args) ~= "table" then
        result, is_done = { error = "the arguments are not a JSON object" }, false
      else
        result, is_done = run_tool_call(agent, tools, fn.name, args)
      end
      results[#results + 1] = { tool = fn.name, args = args, result = result }
      local okj, content = pcall(T.json_encode, result)
      agent.history[#agent.history + 1] = { role = "tool", tool_call_id = c.id,
        content = okj and content or tostring(result) }
      finished = finished or is_done
    end
    if finished then break end
  end
  if not finished then
    ctx.emit("log", { level = "WARNING", message = "agent " .. agent.name .. ": stopped after max_turns = "
      .. max_turns .. " model calls; the model was still calling tools" })
  end
  return text, results, usage
end

local function structured(agent, text)
  if agent.spec.output == nil then return text end
  local ok, v = pcall(T.json_decode, text:match("^%s*```%w*%s*(.-)%s*```%s*$") or text)
  if ok and type(v) == "table" then
    ctx.check_output(agent.spec.output, v)
    return v
  end
  ctx.emit("log", { level = "WARNING", message = "agent " .. agent.name .. ": the answer is not the structured output its schema asks for" })
  return text
end

local function turn(agent, opts)
  if opts ~= nil and type(opts) ~= "table" then opts = { message = tostring(opts) } end
  opts = opts or {}
  local tools, order = resolve_tools(opts.tools or agent.spec.tools)
  local start_len = #agent.history
  -- What the procedure put in MessageHistory since this agent's last turn.
  local pending
  pending, agent.seen_history = ctx.history_pending(agent.seen_history)
  for _, m in ipairs(pending) do agent.history[#agent.history + 1] = m end
  local msg = user_message(agent, opts, #pending > 0)
  if msg then agent.history[#agent.history + 1] = msg end
  ctx.emit("agent_turn", { agent_name = agent.name, stage = "started" })
  local t0 = T.monotonic()
  local usage = new_usage()
  local mocked = ctx.is_mocked(agent.name)
  local ok, text, results, _, data = pcall(function()
    if mocked then return mock_turn(agent, tools, usage) end
    return model_turn(agent, tools, order, usage, opts)
  end)
  if not ok then
    -- Every started turn is completed in the trace, a failed one with its error.
    local waiting = ctx.is_waiting(text)
    local etype = type(text) == "table" and rawget(text, "type")
    -- (pcall: if the broker is gone, the turn's own error is the one to raise.)
    pcall(ctx.emit, "agent_turn", { agent_name = agent.name, stage = "completed",
      status = waiting and "waiting" or "error", error = T.error_text(text),
      error_type = type(etype) == "string" and etype or "RuntimeError",
      duration_ms = (T.monotonic() - t0) * 1000 })
    error(text, 0)
  end
  agent.turns = agent.turns + 1
  ctx.emit("agent_turn", { agent_name = agent.name, stage = "completed", status = "ok",
    duration_ms = (T.monotonic() - t0) * 1000 })
  local new = {}
  for i = start_len + 1 + #pending, #agent.history do new[#new + 1] = agent.history[i] end
  ctx.history_record(agent.name, new)
  agent.seen_history = select(2, ctx.history_pending(agent.seen_history))
  local output = data
  if output == nil then output = structured(agent, text) end
  local result = { output = output, text = text, usage = usage, tool_calls = results }
  result.cost = function()
    return { prompt_tokens = usage.prompt_tokens, completion_tokens = usage.completion_tokens,
             total_tokens = usage.total_tokens, total_cost = usage.cost }
  end
  result.new_messages = function() return new end
  result.all_messages = function() return agent.history end
  return result
end

local function declare_agent(spec, level)
  if type(spec) ~= "table" then error("Agent expects a table: x = Agent { model = ..., ... }", level + 1) end
  if spec.model ~= nil and type(spec.model) ~= "string" then
    error("Agent: model must be a string such as \"openai/gpt-4o-mini\"", level + 1)
  end
  if spec.provider ~= nil and type(spec.provider) ~= "string" then
    error("Agent: provider must be a string such as \"anthropic\"", level + 1)
  end
  if spec.model_type ~= nil and spec.model_type ~= "responses" and spec.model_type ~= "chat" then
    error("Agent: model_type must be \"responses\" (OpenAI's Responses API) or \"chat\"", level + 1)
  end
  if spec.tools ~= nil and type(spec.tools) ~= "table" then error("Agent: tools must be a list", level + 1) end
  local agent = { name = spec.name, spec = spec, history = {}, turns = 0 }
  if spec.model == nil then spec.model = ctx.settings and ctx.settings.default_model or "openai/gpt-4o-mini" end
  if spec.provider == nil and ctx.settings and ctx.settings.default_provider and not spec.model:find("/") then
    spec.provider = ctx.settings.default_provider
  end
  local handle = setmetatable({}, {
    __index = function(_, k)
      if k == "name" then return agent.name end
      if k == "history" then return function() return agent.history end end
      if k == "turns" then return function() return agent.turns end end
      if k == "reset" then return function() agent.history, agent.turns = {}, 0 end end
      -- x.turn(opts): the method form Tactus's agent handles still have
      -- (opts.inject is the message).
      if k == "turn" then
        return function(opts)
          if type(opts) == "table" and opts.inject ~= nil and opts.message == nil then
            local o = {}
            for key, v in pairs(opts) do o[key] = v end
            o.message = opts.inject
            opts = o
          end
          if agent.name == nil then agent.name = "agent" end
          return turn(agent, opts)
        end
      end
    end,
    __call = function(_, opts)
      if agent.name == nil then agent.name = "agent" end
      return turn(agent, opts)
    end,
    __newindex = function() error("agent handles are read-only", 2) end,
  })
  AGENT[handle] = agent
  if agent.name then by_name[agent.name] = handle end
  return handle
end

-- An agent of the runtime's own (Classify's): spec.internal set.
function ctx.make_agent(spec) return declare_agent(spec, 1) end
function ctx.agent_named(name) return by_name[name] end
-- Every agent the file declared ({name, spec}), for validate / info.
function ctx.agent_list()
  local out = {}
  for _, a in pairs(AGENT) do
    if not a.spec.internal then out[#out + 1] = { name = a.name, spec = a.spec } end
  end
  table.sort(out, function(x, y) return tostring(x.name) < tostring(y.name) end)
  return out
end

G.Agent = setmetatable({}, {
  __call = function(_, spec)
    if type(spec) == "string" then
      if by_name[spec] then return by_name[spec] end
      error("Agent \"" .. spec .. "\" { ... } is the old curried syntax; write " .. spec .. " = Agent { ... }", 2)
    end
    return declare_agent(spec, 2)
  end,
})

function ctx.on_assign_agent(name, value)
  local agent = AGENT[value]
  if not agent then return false end
  if agent.name == nil then
    agent.name = name
    by_name[name] = value
  end
  return true
end
