-- Agents: x = Agent { model, system_prompt, tools, ... } called as x() or
-- x({ message = ... }).  Each call is one turn through the broker's
-- llm.chat (the model key never enters the sandbox).
local ctx = ...
local G = ctx.G
local type, error, setmetatable = type, error, setmetatable

local AGENT = {}

local function declare_agent(spec, level)
  if type(spec) ~= "table" then error("Agent expects a table: x = Agent { model = ..., ... }", level + 1) end
  local agent = { name = spec.name, spec = spec }
  local handle = setmetatable({}, {
    __index = function(_, k) if k == "name" then return agent.name end end,
    __call = function()
      error({ type = "NotAvailable", message = "Agent '" .. tostring(agent.name)
        .. "': agents are not yet available in this version of tactus-run" }, 2)
    end,
  })
  AGENT[handle] = agent
  return handle
end

G.Agent = setmetatable({}, {
  __call = function(_, spec)
    if type(spec) == "string" then
      error("Agent \"" .. spec .. "\" { ... } is the old curried syntax; write " .. spec .. " = Agent { ... }", 2)
    end
    return declare_agent(spec, 2)
  end,
})

function ctx.on_assign_agent(name, value)
  local agent = AGENT[value]
  if not agent then return false end
  if agent.name == nil then agent.name = name end
  return true
end
