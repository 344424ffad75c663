-- Schemas: field.string/number/integer/boolean/array/object{required,
-- default, description, enum}; input validation and defaults; output
-- checks (a mismatch fails the run); Procedure {} and script
-- mode's top-level input {} / output {}.
local ctx = ...
local G, T = ctx.G, ctx.T
local type, pairs, ipairs, tostring, tonumber, error, setmetatable, getmetatable =
  type, pairs, ipairs, tostring, tonumber, error, setmetatable, getmetatable
local floor, huge = math.floor, math.huge

local FIELD = {} -- metatable marking field declarations

local function is_field(v) return type(v) == "table" and getmetatable(v) == FIELD end
ctx.is_field = is_field

local function deep_copy(v, seen)
  if type(v) ~= "table" then return v end
  seen = seen or {}
  if seen[v] then return seen[v] end
  local c = {}
  seen[v] = c
  for k, x in pairs(v) do c[deep_copy(k, seen)] = deep_copy(x, seen) end
  return c
end
ctx.deep_copy = deep_copy

-- The order fields were declared in (field.x{} calls), for the CLI's view
-- of the result: Lua tables keep no order.
local SEQ = setmetatable({}, { __mode = "k" })
local seq = 0

local function make_builder(kind)
  return function(opts)
    if opts ~= nil and type(opts) ~= "table" then
      error("field." .. kind .. " takes a table of options, e.g. field." .. kind .. "{required = true}", 2)
    end
    local f = setmetatable({ kind = kind }, FIELD)
    seq = seq + 1
    SEQ[f] = seq
    for k, v in pairs(opts or {}) do f[k] = v end
    if f.enum ~= nil and type(f.enum) ~= "table" then
      error("field." .. kind .. ": enum must be a list of allowed values", 2)
    end
    return f
  end
end

local field = {}
for _, kind in ipairs({ "string", "number", "integer", "boolean", "array", "object", "any" }) do
  field[kind] = make_builder(kind)
end
-- Evaluators share the builder namespace in Tactus; they are inert here and
-- used by `tactus-run eval`.
for _, name in ipairs({ "equals_expected", "min_length", "max_length", "contains", "matches",
    "one_of", "llm_judge", "exact_match", "regex", "length",
    "contains_any", "contains_all", "is_instance", "range", "max_iterations", "max_tokens",
    "max_cost", "tool_called", "state_check" }) do
  field[name] = function(opts)
    local e = { evaluator = name }
    for k, v in pairs(opts or {}) do e[k] = v end
    return e
  end
end
G.field = field

local function is_array(v)
  if type(v) ~= "table" then return false end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  for i = 1, n do if v[i] == nil then return false end end
  return true
end

-- Check V against field F; returns the (possibly coerced) value or nil, why.
local function check_value(f, v, coerce)
  local kind = f.kind
  if coerce and type(v) == "string" then
    if kind == "number" or kind == "integer" then
      local n = tonumber(v)
      if n ~= nil then v = n end
    elseif kind == "boolean" then
      local l = v:lower()
      if l == "true" or l == "1" or l == "yes" then v = true
      elseif l == "false" or l == "0" or l == "no" then v = false end
    elseif kind == "array" or kind == "object" then
      local ok, d = pcall(T.json_decode, v)
      if ok and type(d) == "table" then v = d end
    end
  end
  local t = type(v)
  if kind == "string" and t ~= "string" then return nil, "expected a string, got " .. t end
  if kind == "number" and t ~= "number" then return nil, "expected a number, got " .. t end
  -- tonumber accepts "inf", "nan", "1e999": values no JSON (state, result,
  -- checkpoint) can carry, and inf passed the integer check below.
  if (kind == "number" or kind == "integer") and t == "number" and (v ~= v or v == huge or v == -huge) then
    return nil, "expected a finite number, got " .. tostring(v)
  end
  if kind == "integer" and (t ~= "number" or v ~= floor(v)) then
    return nil, "expected an integer, got " .. (t == "number" and tostring(v) or t)
  end
  if kind == "boolean" and t ~= "boolean" then return nil, "expected a boolean, got " .. t end
  if kind == "array" and not is_array(v) then return nil, "expected an array (a list), got " .. t end
  if kind == "object" and t ~= "table" then return nil, "expected an object (a table), got " .. t end
  if f.enum then
    local found = false
    for _, allowed in ipairs(f.enum) do if allowed == v then found = true break end end
    if not found then
      local names = {}
      for i, allowed in ipairs(f.enum) do names[i] = tostring(allowed) end
      return nil, "must be one of: " .. table.concat(names, ", ")
    end
  end
  return v
end
ctx.check_value = check_value

-- The run's --param names against the main procedure's input SCHEMA: a
-- name the schema does not declare is a typo the procedure would never
-- see (Tactus drops it silently; here it is an error).  A procedure that
-- declares no input takes any.  Only the command line's parameters
-- (ctx.cli_params): sub-procedures, scenarios and evaluations pass their
-- own.
local function check_param_names(schema)
  if not ctx.cli_params or type(schema) ~= "table" then return end
  local names = {}
  for name, f in pairs(schema) do
    if type(name) == "string" and is_field(f) then names[#names + 1] = name end
  end
  if #names == 0 then return end
  table.sort(names)
  local unknown = {}
  for k in pairs(ctx.params or {}) do
    if type(k) == "string" and not (is_field(schema[k])) then unknown[#unknown + 1] = k end
  end
  if #unknown == 0 then return end
  table.sort(unknown)
  local k = unknown[1]
  local guess = ctx.lib("similarity").closest(k, names)
  error({ type = "InputError", message = "--param " .. k .. ": the procedure has no input '" .. k
    .. "' (its inputs: " .. table.concat(names, ", ") .. ")"
    .. (guess and ("; did you mean '" .. guess .. "'?") or "") }, 0)
end

-- Validate PARAMS against SCHEMA (a table of fields).  Unknown keys pass.
function ctx.validate_input(schema, params, what)
  local out = {}
  for k, v in pairs(params or {}) do out[k] = v end
  for name, f in pairs(schema or {}) do
    if is_field(f) then
      local v = out[name]
      if v == nil then
        if f.default ~= nil then
          out[name] = deep_copy(f.default)
        elseif f.required then
          error({ type = "InputError", message = (what or "input") .. ": missing required field '"
            .. name .. "'" .. (f.description and (" (" .. f.description .. ")") or "") })
        end
      else
        local checked, why = check_value(f, v, true)
        if checked == nil then
          error({ type = "InputError", message = (what or "input") .. " '" .. name .. "': " .. why })
        end
        out[name] = checked
      end
    end
  end
  return out
end

-- Output checks only log, as Tactus does; the result is returned as is.
-- The names of SCHEMA's fields in declaration order, or nil.
function ctx.schema_order(schema)
  if type(schema) ~= "table" then return nil end
  local names = {}
  for name, f in pairs(schema) do
    if is_field(f) and type(name) == "string" then names[#names + 1] = name end
  end
  if #names == 0 then return nil end
  table.sort(names, function(a, b) return (SEQ[schema[a]] or 0) < (SEQ[schema[b]] or 0) end)
  return names
end

-- The result against its procedure's output schema, as Tactus checks it: a
-- result that is not a table, or misses a required field, fails the run
-- (ProcedureCallable), every missing field named with its type; a field of
-- the wrong type or outside its enum is logged as an error and the run
-- goes on (OutputValidator: "Output validation failed", then the result as
-- returned).  The example corpus relies on the latter (05-evaluations return
-- an agent's done result where a string is declared).
function ctx.check_output(schema, result)
  if type(schema) ~= "table" or is_field(schema) then return end
  local names = {}
  for name, f in pairs(schema) do
    if is_field(f) then names[#names + 1] = name end
  end
  if #names == 0 then return end
  if type(result) ~= "table" then
    error({ type = "OutputValidationError", message = "output: expected a table with the output schema's fields ("
      .. table.concat(names, ", ") .. "), got " .. type(result) }, 0)
  end
  table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
  local problems = {}
  for _, name in ipairs(names) do
    local f, v = schema[name], result[name]
    if v == nil then
      if f.required then
        problems[#problems + 1] = "missing required field '" .. tostring(name) .. "' (" .. f.kind .. ")"
      end
    else
      local _, why = check_value(f, v, false)
      if why then
        ctx.emit("log", { level = "ERROR", message = "output validation failed: field '" .. tostring(name) .. "': " .. why })
      end
    end
  end
  if #problems > 0 then
    error({ type = "OutputValidationError", message = "output: " .. table.concat(problems, "; ") }, 0)
  end
end

local function init_state(schema)
  for name, f in pairs(schema or {}) do
    if is_field(f) and f.default ~= nil and ctx.state[name] == nil then
      ctx.state[name] = deep_copy(f.default)
    elseif not is_field(f) and ctx.state[name] == nil then
      ctx.state[name] = deep_copy(f)
    end
  end
end

-- Procedure { input=, output=, state=, function(input) ... end }
local function declare_procedure(spec, level)
  if type(spec) ~= "table" then
    error("Procedure expects a table: Procedure { function(input) ... end }", level + 1)
  end
  local fn = spec[#spec]
  if type(fn) ~= "function" then
    fn = spec["function"] or spec.run
  end
  if type(fn) ~= "function" then
    error("Procedure: the last element of the table must be the body function", level + 1)
  end
  local proc = { name = spec.name, input = spec.input, output = spec.output, state = spec.state,
                 fn = fn, description = spec.description }
  local handle = setmetatable({}, {
    __index = function(_, k)
      if k == "run" then return function(params) return ctx.run_procedure(proc, params) end end
      return proc[k]
    end,
    __call = function(_, params) return ctx.run_procedure(proc, params) end,
  })
  ctx.names[handle] = proc
  if proc.name and proc.name ~= "main" then
    ctx.procedures[proc.name] = proc
  else
    -- Unnamed: the main procedure, unless the handle is assigned to a
    -- global (then it is a named sub-procedure; see ctx.on_assign).
    ctx.unnamed[#ctx.unnamed + 1] = proc
  end
  return handle
end

function ctx.run_procedure(proc, params)
  local input = ctx.validate_input(proc.input, params, "procedure " .. (proc.name or "main") .. " input")
  local result = proc.fn(input)
  ctx.check_output(proc.output, result)
  return result
end

-- The main procedure once the chunk has run, or nil in script mode.
function ctx.find_main()
  if #ctx.unnamed > 1 then
    error({ type = "DeclarationError", message = "more than one main Procedure { ... } is declared; "
      .. "give the others a name (name = \"x\") or assign them to a global" })
  end
  return ctx.unnamed[1]
end

function ctx.run_main(proc)
  init_state(proc.state)
  check_param_names(proc.input)
  local input = ctx.validate_input(proc.input, ctx.params, "input")
  G.input = input
  ctx.output_schema = proc.output
  local result = proc.fn(input)
  ctx.check_output(proc.output, result)
  return result
end

-- A named procedure assigned to a global learns its name: x = Procedure {...}
-- Procedure "name" { ... }, the curried form Tactus's own docs still show,
-- is the same as Procedure { name = "name", ... }.
local function procedure_call(_, spec)
  if type(spec) == "string" then
    local name = spec
    return function(body)
      if type(body) ~= "table" then
        error("Procedure \"" .. name .. "\" expects a table: Procedure \"" .. name .. "\" { function(input) ... end }", 2)
      end
      if body.name == nil then body.name = name end
      -- Not a tail call: a tail call drops this frame, and the level of
      -- declare_procedure's errors would then name the runtime, not the
      -- user's line.
      local handle = declare_procedure(body, 2)
      return handle
    end
  end
  local handle = declare_procedure(spec, 2)
  return handle
end
G.Procedure = setmetatable({}, { __call = procedure_call })

-- Script mode: top-level input {} resolves the parameters at once so the
-- following statements can read input.x; output {} records the schema.
local script_output
local input_table = {}
for k, v in pairs(ctx.params) do input_table[k] = v end
setmetatable(input_table, {
  -- A sub-procedure's parameters arrive after this table is made (its
  -- runtime is built first), so reads fall back to the current params.
  __index = function(_, k) return ctx.params[k] end,
  __call = function(_, schema)
    ctx.script_input = schema
    check_param_names(schema)
    local values = ctx.validate_input(schema, ctx.params, "input")
    for k, v in pairs(values) do rawset(input_table, k, v) end
    return input_table
  end,
})
G.input = input_table
G.output = function(schema) script_output = schema; ctx.script_output = schema; return schema end
function ctx.finish_script(result)
  ctx.output_schema = script_output
  ctx.check_output(script_output, result)
  return result
end
