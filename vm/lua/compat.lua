-- What a Tactus file may reach for that tactus-run answers differently:
--   * unknown globals: the error names the global, says what to write
--     instead when it is older Tactus syntax (agent("x", {...}) ...) or a
--     Tactus feature tactus-run does not have, else suggests a close name;
--   * primitive tables are strict: Stage.advance, Procedure.spawn ... are
--     errors naming the function, never a silent nil;
--   * python.iter / python.enumerate: the two helpers of lupa's Python
--     bridge Tactus examples use to walk lists; nothing else of it exists.
local ctx = ...
local G = ctx.G
local type, pairs, ipairs, tostring, error, setmetatable, getmetatable, rawget =
  type, pairs, ipairs, tostring, error, setmetatable, getmetatable, rawget
local sort, concat = table.sort, table.concat
local similarity = ctx.lib("similarity")

-- Older Tactus syntax (v0.2 to v0.13 and the curried v0.14 forms), which
-- current Tactus no longer accepts either: what to write instead.
local OLD_SYNTAX = {
  agent = 'agent("x", {...}) is the older Tactus syntax; write x = Agent { model = ..., system_prompt = ... } '
    .. "and call the agent as x() or x({ message = ... })",
  procedure = 'procedure("main", {...}, function ... end) is the older Tactus syntax; write '
    .. "Procedure { input = {...}, output = {...}, function(input) ... end }",
  tool = 'tool("x", {...}) is the older Tactus syntax; write x = Tool { description = ..., input = {...}, '
    .. "function(args) ... end }",
  toolset = 'toolset("x", {...}) is the older Tactus syntax; write Toolset "x" { tools = {...} }',
  model = 'model("x", {...}) is the older Tactus syntax; write x = Model { type = ..., ... }',
  stages = "stages({...}) is the older Tactus syntax; tactus-run declares stages in the policy "
    .. "(policy.stages in .tactus/config.yml) and the procedure calls Stage.set(name)",
  specification = "specification(...) is the older Tactus syntax; write Specification([[ Feature: ... ]])",
  specifications = "specifications(...) is the older Tactus syntax; write Specification([[ Feature: ... ]])",
  step = 'step("...", fn) is the older Tactus syntax; write Step("...", function(world) ... end)',
  evaluation = "evaluation(...) is the older Tactus syntax; write Evaluation { dataset = ..., evaluators = ... }",
  evaluations = "evaluations(...) is the older Tactus syntax; write Evaluation { dataset = ..., evaluators = ... }",
  hitl = "hitl(...) is the older Tactus syntax for declared Human interaction points; call "
    .. "Human.approve { message = ... } (or Human.input, Human.review) where the procedure asks",
  params = "params is the older Tactus syntax; the procedure's function receives input: "
    .. "Procedure { function(input) ... input.x ... end }",
  prompt = 'prompt("x", "...") (prompt templates) is the older Tactus syntax and is not supported; '
    .. "put the text in the agent's system_prompt",
}

-- Newer Tactus features tactus-run does not provide, and why.
local NO_PYTHON = "it runs Python code (DSPy, LiteLLM, or a Python library) in Tactus, and tactus-run's "
  .. "sandboxed VM has no Python"
local UNSUPPORTED = {
  Task = "tasks (Task, tactus FILE TASK) are not supported",
  IncludeTasks = "tasks (IncludeTasks) are not supported",
  TaskFunction = "tasks (TaskFunction) are not supported",
  Context = "context assembly (Context) is not supported",
  Corpus = "retrieval (Corpus) is not supported: " .. NO_PYTHON,
  Retriever = "retrieval (Retriever) is not supported: " .. NO_PYTHON,
  Compactor = "Compactor is not supported: " .. NO_PYTHON,
  Prompt = "prompt templates (Prompt) are not supported; put the text in the agent's system_prompt",
  Hitl = "declared Human interaction points (Hitl) are not supported; call Human.approve { message = ... }",
  LM = "DSPy language models (LM) are not supported: " .. NO_PYTHON .. "; use x = Agent { model = ... }",
  get_current_lm = "DSPy language models (get_current_lm) are not supported: " .. NO_PYTHON,
  Module = "DSPy modules (Module) are not supported: " .. NO_PYTHON .. "; use x = Agent { ... }",
  Signature = "DSPy signatures (Signature) are not supported: " .. NO_PYTHON .. "; use Agent { output = {...} }",
  History = "DSPy History is not supported: " .. NO_PYTHON .. "; use MessageHistory",
  Message = "DSPy Message is not supported: " .. NO_PYTHON .. "; use MessageHistory.append { role =, content = }",
  DSPyAgent = "DSPyAgent is not supported: " .. NO_PYTHON .. "; use x = Agent { ... }",
  mcp = "mcp.<server>.<tool> is not supported here; a host tool the policy allows is called with "
    .. "Host.call(\"host.<name>\", args) or declared as Tool { use = \"host.<name>\" }",
  filters = "message history filters (filters.last_n ...) are not supported; use MessageHistory.tail(n) "
    .. "or MessageHistory.keep_tail(n)",
  utf8_clean = "utf8_clean is not supported",
}
for _, name in ipairs({ "system", "user", "assistant", "context", "history", "template" }) do
  UNSUPPORTED[name] = "context assembly directives (" .. name .. "(...)) are not supported"
end

-- The error text for reading global NAME, which nothing defines.  KNOWN:
-- the names that exist (for the suggestion).
function ctx.unknown_global(name, known)
  if type(name) ~= "string" then return "unknown global '" .. tostring(name) .. "'" end
  if OLD_SYNTAX[name] then return "unknown global '" .. name .. "': " .. OLD_SYNTAX[name] end
  if UNSUPPORTED[name] then return "'" .. name .. "' is not available in tactus-run: " .. UNSUPPORTED[name] end
  -- Older files call agents by a capitalized name (agent("worker") made Worker).
  local agent = ctx.agent_named and ctx.agent_named(name:sub(1, 1):lower() .. name:sub(2))
  if agent and name:find("^%u") then
    return "unknown global '" .. name .. "': the agent is named " .. name:sub(1, 1):lower() .. name:sub(2)
      .. " (older Tactus made a capitalized global; call it by the name it is assigned to)"
  end
  local guess = similarity.closest(name, known)
  if guess then return "unknown global '" .. name .. "' (did you mean '" .. guess .. "'?)" end
  return "unknown global '" .. name .. "'"
end

-- Make primitive table T (the global NAME) strict: reading a missing key
-- is an error naming NAME.key, what T has, and why when MISSING explains.
function ctx.strict(name, t, missing)
  local mt = getmetatable(t) or {}
  local fallback = mt.__index
  mt.__index = function(self, key)
    if fallback then
      local v
      if type(fallback) == "function" then v = fallback(self, key) else v = fallback[key] end
      if v ~= nil then return v end
    end
    if type(key) ~= "string" then return nil end
    local why = missing and missing[key]
    if why then error(name .. "." .. key .. " is not available in tactus-run: " .. why, 2) end
    local names = {}
    for k in pairs(self) do if type(k) == "string" then names[#names + 1] = k end end
    if type(fallback) == "table" then
      for k in pairs(fallback) do if type(k) == "string" then names[#names + 1] = k end end
    end
    sort(names)
    local guess = similarity.closest(key, names)
    error(name .. "." .. key .. " does not exist" .. (guess and (" (did you mean " .. name .. "." .. guess .. "?)") or "")
      .. "; " .. name .. " has: " .. concat(names, ", "), 2)
  end
  return setmetatable(t, mt)
end

-- python.iter(list) / python.enumerate(list): lupa's helpers, on Lua lists
-- (values, or 0-based index and value, as Python's enumerate).
G.python = ctx.strict("python", {
  iter = function(list)
    if type(list) ~= "table" then error("python.iter: expected a list", 2) end
    local i = 0
    return function()
      i = i + 1
      return list[i]
    end
  end,
  enumerate = function(list)
    if type(list) ~= "table" then error("python.enumerate: expected a list", 2) end
    local i = 0
    return function()
      i = i + 1
      if list[i] == nil then return nil end
      return i - 1, list[i]
    end
  end,
}, setmetatable({}, { __index = function(_, k)
  return "lupa's Python bridge (python." .. tostring(k) .. ") does not exist: tactus-run has no Python; "
    .. "only python.iter and python.enumerate are provided, for walking lists"
end }))

-- Strict primitive tables, with the Tactus functions tactus-run lacks.
local ASYNC = "asynchronous sub-procedures are not supported; Procedure.run(name_or_path, params) runs one to its end"
local PROC_MISSING = {}
for _, k in ipairs({ "spawn", "status", "wait", "inject", "cancel", "wait_any", "wait_all", "is_complete",
    "all_complete", "defer", "await_children" }) do
  PROC_MISSING[k] = ASYNC
end
function ctx.make_strict()
  for _, name in ipairs({ "Log", "State", "Iterations", "Stop", "Json", "File", "Human", "System", "Host",
      "Checkpoint", "Retry", "MessageHistory", "Session" }) do
    if type(rawget(G, name)) == "table" then ctx.strict(name, G[name]) end
  end
  ctx.strict("Stage", G.Stage, {
    advance = "stages are not an ordered list here: set the next one with Stage.set(name)",
  })
  ctx.strict("Procedure", G.Procedure, PROC_MISSING)
  ctx.strict("Tool", G.Tool)
  ctx.strict("Toolset", G.Toolset, {
    define = "write Toolset \"name\" { tools = {...} }", combine = "list the tools in one Toolset { tools = {...} }",
    filter = "list the tools an agent may use in its tools = {...}",
  })
end
