-- require: the standard modules (tactus.tools.done, tactus.io.file/json/
-- csv/tsv) and local .tac modules beside the procedure (fetched through the
-- broker, which confines them to the procedure's directory).  Also
-- Procedure.run(name_or_path, params) for sub-procedures.
local ctx = ...
local G, T = ctx.G, ctx.T
local type, pairs, ipairs, tostring, error, setmetatable, pcall =
  type, pairs, ipairs, tostring, error, setmetatable, pcall
local fs = ctx.fs -- File primitives on user paths (paths.lua), errors at the user's line

-- Delimited text: RFC 4180 quoting for CSV (a quoted field may hold the
-- separator, "" and newlines); TSV has no quoting.  Blank lines are skipped.
local function parse_records(text, sep, quoted, what)
  local records, i, n = {}, 1, #text
  if not quoted then
    for line in text:gmatch("[^\r\n]+") do
      local fields = {}
      for f in (line .. sep):gmatch("(.-)" .. sep) do fields[#fields + 1] = f end
      records[#records + 1] = fields
    end
    return records
  end
  local fields, line_no = {}, 1
  while i <= n do
    local c = text:sub(i, i)
    if c == '"' then
      local buf, j = {}, i + 1
      while true do
        local q = text:find('"', j, true)
        if q == nil then
          ctx.raise(what .. ".read: line " .. line_no .. ": unterminated quoted field")
        end
        buf[#buf + 1] = text:sub(j, q - 1)
        if text:sub(q + 1, q + 1) == '"' then buf[#buf + 1] = '"'; j = q + 2
        else j = q + 1; break end
      end
      local field = table.concat(buf)
      for _ in field:gmatch("\n") do line_no = line_no + 1 end
      fields[#fields + 1] = field
      i = j
      c = text:sub(i, i)
      if c ~= sep and c ~= "\r" and c ~= "\n" and c ~= "" then
        ctx.raise(what .. ".read: line " .. line_no .. ": unexpected text after a quoted field")
      end
    else
      local j = text:find("[" .. sep .. "\r\n]", i) or (n + 1)
      fields[#fields + 1] = text:sub(i, j - 1)
      i = j
      c = text:sub(i, i)
    end
    if c == sep then
      i = i + 1
      if i > n then fields[#fields + 1] = "" end
    else
      -- the end of a record ("\r\n", "\n" or the end of the text)
      if c == "\r" and text:sub(i + 1, i + 1) == "\n" then i = i + 1 end
      i = i + 1
      line_no = line_no + 1
      if not (#fields == 1 and fields[1] == "") then records[#records + 1] = fields end
      fields = {}
    end
  end
  if #fields > 0 then records[#records + 1] = fields end
  return records
end

local function delimited(sep, quoted, what)
  local function read(path)
    local records = parse_records(fs.read(path, what .. ".read"), sep, quoted, what)
    local rows, headers = {}, records[1]
    for r = 2, #records do
      local rec, row = records[r], {}
      for i, h in ipairs(headers) do row[h] = rec[i] or "" end
      rows[#rows + 1] = row
    end
    return rows, headers or {}
  end
  local function quote(v)
    v = tostring(v == nil and "" or v)
    if not quoted then
      if v:find("[\t\r\n]") then ctx.raise(what .. ".write: TSV values cannot contain tabs or newlines") end
      return v
    end
    if v:find('[,"\r\n]') then return '"' .. v:gsub('"', '""') .. '"' end
    return v
  end
  local function write(path, rows, opts)
    if type(rows) ~= "table" then ctx.raise(what .. ".write: rows must be a list of tables") end
    local headers = opts and opts.headers
    if not headers then
      headers = {}
      local seen = {}
      for _, row in ipairs(rows) do
        for k in pairs(row) do
          if not seen[k] then seen[k] = true; headers[#headers + 1] = k end
        end
      end
      table.sort(headers, function(a, b) return tostring(a) < tostring(b) end)
    end
    local out = {}
    local line = {}
    for i, h in ipairs(headers) do line[i] = quote(h) end
    out[1] = table.concat(line, sep)
    for _, row in ipairs(rows) do
      line = {}
      for i, h in ipairs(headers) do line[i] = quote(row[h]) end
      out[#out + 1] = table.concat(line, sep)
    end
    fs.write(path, table.concat(out, "\n") .. "\n", false, what .. ".write")
    return true
  end
  return { read = read, write = write }
end

local stdlib = {
  ["tactus.tools.done"] = function() return ctx.done_tool() end,
  ["tactus.tools.log"] = function() return ctx.log_tool() end,
  ["tactus.classify"] = function() return ctx.classify_module() end,
  ["tactus.text.classify"] = function() return ctx.classify_module() end,
  ["tactus.classify.llm"] = function() return { LLMClassifier = ctx.classify_module().LLMClassifier } end,
  ["tactus.classify.fuzzy"] = function() return { FuzzyMatchClassifier = ctx.classify_module().FuzzyMatchClassifier } end,
  ["tactus.classify.similarity"] = function()
    local sim = ctx.lib("similarity")
    return { calculate_similarity = function(a, b, algorithm) return sim.classify(a, b, algorithm) end }
  end,
  ["tactus.io.file"] = function()
    return { read = G.File.read, write = G.File.write, exists = G.File.exists, size = G.File.size,
             append = G.File.append, list = G.File.list, remove = G.File.remove }
  end,
  ["tactus.io.json"] = function()
    return {
      read = function(path) return T.json_decode(fs.read(path, "json.read")) end,
      write = function(path, value, opts)
        fs.write(path, T.json_encode(value, opts and opts.pretty), false, "json.write")
        return true
      end,
    }
  end,
  ["tactus.io.csv"] = function() return delimited(",", true, "csv") end,
  ["tactus.io.tsv"] = function() return delimited("\t", false, "tsv") end,
  ["tactus.io.fs"] = function()
    return { list_dir = G.File.list, exists = G.File.exists, is_dir = G.File.is_dir }
  end,
}

-- Tactus standard modules tactus-run does not have, and why (docs/compat.md).
local NO_PYTHON = "it is Python code in Tactus, and the sandboxed VM has no Python"
local UNSUPPORTED_MODULES = {
  ["tactus.io.parquet"] = "Parquet files need pyarrow: " .. NO_PYTHON,
  ["tactus.io.hdf5"] = "HDF5 files need h5py: " .. NO_PYTHON,
  ["tactus.io.excel"] = "Excel files need openpyxl: " .. NO_PYTHON,
  ["tactus.web"] = "the cage has no network; call a host tool the policy allows (Host.call)",
  ["tactus.http"] = "the cage has no network; call a host tool the policy allows (Host.call)",
  ["tactus.deepgram"] = "the cage has no network, and the speech API needs Python",
  ["tactus.biblicus"] = NO_PYTHON,
  ["tactus.extract"] = "LLM extraction is not provided; ask an agent with output = { ... } fields",
  ["tactus.text.extract"] = "LLM extraction is not provided; ask an agent with output = { ... } fields",
  ["tactus.generate"] = "LLM generation helpers are not provided; call an agent",
}
local UNSUPPORTED_PREFIXES = {
  { "tactus.classify.naive_bayes", "trained classifiers need scikit-learn: " .. NO_PYTHON },
  { "tactus.text.classify.naive_bayes", "trained classifiers need scikit-learn: " .. NO_PYTHON },
  { "tactus.classify.base", "the classifier base class is not provided; use Classify { ... }" },
  { "tactus.models", "trained and hosted models (Model types other than mock) need Python: " .. NO_PYTHON },
  { "tactus.retrievers", "retrieval needs Python (embeddings, SQLite FTS): " .. NO_PYTHON },
  { "tactus.corpora", "corpora need Python: " .. NO_PYTHON },
}
local function unsupported_module(name)
  if UNSUPPORTED_MODULES[name] then return UNSUPPORTED_MODULES[name] end
  for _, p in ipairs(UNSUPPORTED_PREFIXES) do
    if name == p[1] or name:sub(1, #p[1] + 1) == p[1] .. "." then return p[2] end
  end
  return nil
end

local loaded = {}
local loading = {}

-- A local module: NAME.tac beside the procedure, run with the same globals.
-- As Lua's own searchers do, dots in the name are directories:
-- require("lib.text") loads lib/text.tac.
local function require_local(name)
  local reply = T.call("module.load", { name = (name:gsub("%.", "/")) })
  local chunk, err = T.load(reply.source, "@" .. reply.path, G._G)
  if not chunk then error({ type = "SyntaxError", message = err }, 0) end
  return chunk(name)
end

G.require = function(name)
  if type(name) ~= "string" then error("require: expected a module name", 2) end
  if loaded[name] ~= nil then return loaded[name] end
  if loading[name] then error("require: '" .. name .. "' requires itself (a cycle)", 2) end
  local value
  if stdlib[name] then
    value = stdlib[name]()
  elseif name:match("^tactus%.") then
    local names = {}
    for n in pairs(stdlib) do names[#names + 1] = n end
    table.sort(names)
    local why = unsupported_module(name)
    error("require: '" .. name .. "' is not available in tactus-run" .. (why and (": " .. why) or "")
      .. " (available: " .. table.concat(names, ", ") .. ")", 2)
  elseif name:find("%.%.") or name:sub(1, 1) == "/" or name:find("[^%w_%-%./]") then
    error("require: '" .. name .. "': only modules beside the procedure may be loaded "
      .. "(no absolute paths, no '..')", 2)
  else
    loading[name] = true
    value = require_local(name)
    loading[name] = nil
  end
  if value == nil then value = true end
  loaded[name] = value
  return value
end

-- Procedure.run(name_or_path, params): a named procedure declared in this
-- file, or another .tac file run in its own globals.  A path is looked up
-- as Tactus does: in the working directory (the workspace) first, then
-- beside the procedure (the broker's module.load).  The sub-procedure's
-- own relative paths are then relative to its directory.
local depth = 0

local function find_procedure_file(target)
  local path = ctx.workspace_path(target, "workspace", "Procedure.run")
  local ok, exists = pcall(ctx.files.exists, path)
  if ok and exists then
    local source = ctx.files.read(path)
    return source, path, ctx.parent_dir(path) or ""
  end
  local lok, reply = pcall(T.call, "module.load", { name = (target:gsub("%.tac$", "")) })
  if lok then
    local dir = ctx.parent_dir(target)
    local base = ctx.procedure_dir
    local sub_dir
    if type(base) == "string" then
      sub_dir = dir and ((base ~= "" and base ~= ".") and (base .. "/" .. dir) or dir) or base
    end
    return reply.source, reply.path, sub_dir
  end
  local src, line = T.where()
  error({ type = "NotFound", message = (src and (src .. ":" .. tostring(line) .. ": ") or "") .. "Procedure.run: '"
    .. target .. "' is neither in the working directory nor beside the procedure (" .. T.error_text(reply) .. ")" }, 0)
end

G.Procedure.run = function(target, params)
  if type(target) ~= "string" then error("Procedure.run: expected a procedure name or a .tac path", 2) end
  local proc = ctx.procedures[target]
  if proc then return ctx.run_procedure(proc, params) end
  if not target:match("%.tac$") then
    error("Procedure.run: no procedure named '" .. target .. "' (declare it with name = \"" .. target
      .. "\", or give a .tac path)", 2)
  end
  if depth >= 5 then error("Procedure.run: sub-procedures nested deeper than 5", 2) end
  return ctx.checkpoint(function()
    local source, path, dir = find_procedure_file(target)
    local sub = ctx.sub_runtime(true, dir)
    local chunk, err = T.load(source, "@" .. path, sub.env)
    if not chunk then error({ type = "SyntaxError", message = err }, 0) end
    depth = depth + 1
    local ok, result = pcall(sub.run, chunk, params or {})
    depth = depth - 1
    if not ok then error(result, 0) end
    return result
  end)
end
