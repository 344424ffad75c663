-- `tactus-run validate` and `info` (cli/cmd_inspect.c): what a file
-- declares and what is wrong with it, found without running it.  Called by
-- the prelude as inspect(ctx, chunk, start) for start.mode == "inspect";
-- returns the report run.finish carries.
--
-- The file's chunk is executed "dry": declarations register as usual, but
-- the first effect -- a model call, a Human request, a host tool, a file,
-- Sleep, a checkpoint, Stage.set -- stops it (the broker is never asked,
-- no file is touched).  A Procedure file's body is never called; a
-- script-mode file's top level runs up to its first effect.
--
-- Checks (problems with a severity, error or warning):
--   the chunk's errors while declaring (unknown globals, older syntax, bad
--   declarations); more than one main Procedure; schema fields whose
--   default does not fit their type or enum; agents' tools that do not
--   exist; Model types tactus-run cannot call; Specifications that are not
--   Gherkin, and steps no built-in or custom step matches; evaluators that
--   do not exist; Mocks entries that name nothing.
local ctx, chunk, start = ...
local T, G, lib = ctx.T, ctx.G, ctx.lib
local type, pairs, ipairs, tostring, pcall, xpcall, setmetatable, getmetatable, error, next =
  type, pairs, ipairs, tostring, pcall, xpcall, setmetatable, getmetatable, error, next
local sort = table.sort
local value, gherkin, luascan, similarity = lib("value"), lib("gherkin"), lib("luascan"), lib("similarity")

local problems = {}
local function problem(severity, message)
  problems[#problems + 1] = { severity = severity, message = message }
end

---------------------------------------------------------------------------
-- The dry run

local DRY = {}
local EFFECT = {
  ["llm.chat"] = "an agent's model call", ["control.request"] = "a Human request",
  ["tool.call"] = "a host tool call", ["checkpoint.save"] = "a checkpoint", ["stage.set"] = "Stage.set",
}
local function stop(what)
  local src, line = T.where()
  error(setmetatable({ what = what, where = src and (src .. ":" .. tostring(line)) or nil }, DRY), 0)
end
local real_call, real_notify = T.call, T.notify
T.notify = function(method, params)
  if method == "run.finish" then return real_notify(method, params) end
end
T.call = function(method, params, ...)
  if method == "module.load" or method == "run.finish" then return real_call(method, params, ...) end
  if method == "events.emit" then return { ok = true } end
  stop(EFFECT[method] or method)
end
for name in pairs(ctx.files) do ctx.files[name] = function() stop("File." .. name) end end
T.sleep = function() stop("Sleep") end

local stopped_at
local ok, err = xpcall(chunk, function(e)
  if type(e) == "string" then return T.traceback(e, 2) end
  return e
end)
if not ok then
  if getmetatable(err) == DRY then
    stopped_at = err.what .. (err.where and (" at " .. err.where) or "")
  else
    problem("error", (value.trim((T.error_text(err):match("^([^\n]*)")))))
  end
end

local found, main = pcall(ctx.find_main)
if not found then
  problem("error", T.error_text(main))
  main = nil
end
local script_mode = main == nil and next(ctx.unnamed) == nil

---------------------------------------------------------------------------
-- Schemas

local function describe_fields(schema, what)
  local out = {}
  if schema == nil then return out end
  if type(schema) ~= "table" then
    problem("error", what .. ": expected a table of fields such as { name = field.string {} }")
    return out
  end
  for name, f in pairs(schema) do
    if not ctx.is_field(f) then
      problem("error", what .. " '" .. tostring(name) .. "' is not a field: declare it as field.string {...}, "
        .. "field.number {...}, ...")
    else
      local d = { name = tostring(name), type = f.kind, required = f.required and true or false,
                  description = f.description, enum = f.enum }
      if f.default ~= nil then
        d.default = value.sanitize(f.default)
        local _, why = ctx.check_value(f, f.default, false)
        if why then problem("error", what .. " '" .. tostring(name) .. "': the default " .. why) end
        if f.required then
          problem("warning", what .. " '" .. tostring(name) .. "' is required and has a default; the default is used")
        end
      end
      out[#out + 1] = d
    end
  end
  sort(out, function(a, b) return a.name < b.name end)
  return out
end

local inputs = describe_fields(main and main.input or ctx.script_input, "input")
local outputs = describe_fields(main and main.output or ctx.script_output, "output")

---------------------------------------------------------------------------
-- Agents, tools, models, procedures

local tool_names = {}
for name in pairs(ctx.tools) do tool_names[#tool_names + 1] = name end
for name in pairs(ctx.toolsets) do tool_names[#tool_names + 1] = name end
sort(tool_names)

local agents = {}
for _, a in ipairs(ctx.agent_list()) do
  local tools = {}
  for _, t in ipairs(type(a.spec.tools) == "table" and a.spec.tools or {}) do
    if type(t) == "string" then
      tools[#tools + 1] = t
      if ctx.tools[t] == nil and ctx.toolsets[t] == nil then
        local guess = similarity.closest(t, tool_names)
        problem("error", "agent " .. tostring(a.name) .. ": unknown tool '" .. t .. "'"
          .. (guess and (" (did you mean '" .. guess .. "'?)") or ""))
      end
    elseif ctx.tool_record(t) then
      tools[#tools + 1] = t.name or "(unnamed tool)"
    else
      problem("error", "agent " .. tostring(a.name) .. ": a tools entry is neither a tool nor a tool name")
    end
  end
  if a.name == nil then problem("warning", "an Agent is not assigned to a global, so it has no name") end
  agents[#agents + 1] = { name = a.name, model = a.spec.model, tools = tools,
                          system_prompt = type(a.spec.system_prompt) == "string" and value.clip(a.spec.system_prompt, 200) or nil }
end

local tools = {}
for name, h in pairs(ctx.tools) do
  tools[#tools + 1] = { name = name, description = h.description }
end
sort(tools, function(a, b) return a.name < b.name end)

local toolsets = {}
for name, set in pairs(ctx.toolsets) do
  local members = {}
  for _, t in ipairs(set.tools or {}) do
    members[#members + 1] = type(t) == "string" and t or (ctx.tool_record(t) and t.name) or "?"
  end
  toolsets[#toolsets + 1] = { name = name, tools = members }
end
sort(toolsets, function(a, b) return a.name < b.name end)

local models = {}
for name, m in pairs(ctx.models) do
  local spec = ctx.pending_models and ctx.pending_models[m]
  local kind = spec and spec.type or nil
  models[#models + 1] = { name = name, type = kind }
  if kind ~= nil and kind ~= "mock" then
    problem("warning", "Model " .. name .. ": type '" .. tostring(kind) .. "' cannot be called in tactus-run "
      .. "(only type = \"mock\", or a Mocks entry with --mock-all)")
  end
end
sort(models, function(a, b) return a.name < b.name end)

local procedures = {}
for name, p in pairs(ctx.procedures) do
  procedures[#procedures + 1] = { name = name, description = p.description,
                                  inputs = describe_fields(p.input, "procedure " .. name .. " input") }
end
sort(procedures, function(a, b) return a.name < b.name end)

-- Mocks entries name something mockable (or a Classify, declared later).
local mockable = {}
for _, n in ipairs(tool_names) do mockable[n] = true end
for _, a in ipairs(agents) do if a.name then mockable[a.name] = true end end
for _, m in ipairs(models) do mockable[m.name] = true end
for name in pairs(ctx.mocks) do
  local quoted = type(name) == "string"
    and (T.source:find('"' .. name .. '"', 1, true) or T.source:find("'" .. name .. "'", 1, true))
  if not mockable[name] and not tostring(name):find("^host%.") and not quoted then
    problem("warning", "Mocks entry '" .. tostring(name) .. "' names no tool, agent, model or classifier of the file")
  end
end

---------------------------------------------------------------------------
-- Specifications and Evaluations

local texts, dynamic = luascan.specifications(T.source)
if dynamic or #texts == 0 then texts = ctx.specs end
local scenarios, features = {}, {}
if #texts > 0 then
  local okp, list, feats = pcall(gherkin.scenarios, texts)
  if not okp then
    problem("error", T.error_text(list))
  else
    -- The step library, without running anything (the chunk ran above).
    local S = { ctx = ctx, chunk = chunk, start = start, T = T, G = G, lib = lib }
    for _, name in ipairs({ "scenario", "steps", "checks", "stepmatch" }) do T.builtin(name)(S) end
    S.W.loaded = true
    for _, sc in ipairs(list) do
      scenarios[#scenarios + 1] = { name = sc.name, feature = sc.feature, steps = #sc.steps, line = sc.line }
      for _, st in ipairs(sc.steps) do
        if not S.step_known(st.text) then
          local hints = S.closest_steps(S.normalize_step(st.text))
          problem("error", "scenario \"" .. sc.name .. "\", line " .. tostring(st.line) .. ": undefined step \""
            .. st.text .. "\"" .. (hints[1] and (" (the closest: \"" .. hints[1] .. "\")") or ""))
        end
      end
    end
    for i, f in ipairs(feats) do features[i] = f.name end
  end
end

local KNOWN_EVALUATORS = {}
for name, f in pairs(G.field) do
  if type(f) == "function" then
    local okf, e = pcall(f, {})
    if okf and type(e) == "table" and e.evaluator then KNOWN_EVALUATORS[name] = true end
  end
end
local evaluations = {}
for i, E in ipairs(ctx.evaluations) do
  local name = type(E) == "table" and E.name or ("Evaluation " .. i)
  if type(E) ~= "table" then
    problem("error", "Evaluation " .. i .. " is not a table")
  else
    local cases = type(E.dataset) == "table" and #E.dataset or 0
    if E.dataset == nil and E.dataset_file == nil then
      -- Tactus's Evaluation({ runs = N, parallel = ... }) without a dataset
      -- configures repeated runs of the Specifications.
      problem("warning", name .. " has no dataset, so tactus-run eval has no case to run; to run the "
        .. "scenarios " .. tostring(E.runs or "N") .. " times use tactus-run test --runs "
        .. tostring(E.runs or "N"))
    end
    for j, e in ipairs(type(E.evaluators) == "table" and E.evaluators or {}) do
      local kind = type(e) == "table" and (e.evaluator or e.type)
      if type(e) == "table" and kind and not KNOWN_EVALUATORS[kind] and type(e.evaluate) ~= "function"
          and type(e.fn) ~= "function" then
        problem("error", name .. ": evaluator " .. j .. " '" .. tostring(kind) .. "' does not exist")
      end
    end
    evaluations[#evaluations + 1] = { name = name, cases = cases, dataset_file = E.dataset_file,
      evaluators = type(E.evaluators) == "table" and #E.evaluators or 0 }
  end
end

---------------------------------------------------------------------------

T.call, T.notify = real_call, real_notify
local errors = 0
for _, p in ipairs(problems) do if p.severity == "error" then errors = errors + 1 end end
ctx.state = {}
return {
  script_mode = script_mode, stopped_at = stopped_at,
  description = main and main.description or nil,
  inputs = inputs, outputs = outputs, agents = agents, tools = tools, toolsets = toolsets, models = models,
  procedures = procedures, scenarios = scenarios, features = features, evaluations = evaluations,
  specifications = #texts, problems = problems, errors = errors,
}
