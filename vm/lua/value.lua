-- Step values and how `tactus-run test` compares and shows them.
--
-- Values follow Tactus: "quoted" or 'quoted' strings (Python's escapes),
-- numbers, true/false/True/False, nil/None/null, JSON or Python-literal
-- lists and dicts; anything else is the text itself.  Comparisons are
-- loose, as Tactus's are: a boolean matches the text true/false, a number
-- matches numeric text, a table matches equal JSON.
local T, lib = ...
local type, pairs, ipairs, tostring, tonumber, error, pcall, setmetatable, getmetatable =
  type, pairs, ipairs, tostring, tonumber, error, pcall, setmetatable, getmetatable
local sub, find, match, gmatch, gsub, lower, byte, format =
  string.sub, string.find, string.match, string.gmatch, string.gsub, string.lower, string.byte,
  string.format
local concat, sort = table.concat, table.sort
local abs, huge, floor = math.abs, math.huge, math.floor
local literal = lib("literal")

local M = {}

local function trim(s) return match(s, "^%s*(.-)%s*$") end
M.trim = trim

-- A step value that is nil (None, null): distinct from "no value given".
local NIL = setmetatable({}, { __tostring = function() return "nil" end })
M.NIL = NIL

-- A failed expectation: the step fails with MESSAGE.
local FAIL = {}
function M.fail(message) error(setmetatable({ message = message }, FAIL), 0) end
function M.is_failure(e) return type(e) == "table" and getmetatable(e) == FAIL end

function M.error_message(e)
  if M.is_failure(e) then return e.message end
  return T.error_text(e)
end

function M.json(v)
  local ok, s = pcall(T.json_encode, v)
  if ok then return s end
  return tostring(v)
end

local function clip(s, n)
  n = n or 300
  if #s > n then return sub(s, 1, n) .. "..." end
  return s
end
M.clip = clip

-- Compact JSON with sorted keys, so the same value always reads the same
-- in a message (runs are compared by their messages).
local JSON_ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function stable_json(v, depth, seen)
  local t = type(v)
  if v == nil then return "null" end
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if v ~= v or v == huge or v == -huge then return '"' .. tostring(v) .. '"' end
    if v == floor(v) and abs(v) < 1e15 then return format("%d", v) end
    return format("%.14g", v)
  end
  if t == "string" then
    return '"' .. gsub(v, '[%c"\\]', function(c) return JSON_ESC[c] or format("\\u%04x", byte(c)) end) .. '"'
  end
  if t ~= "table" then return '"<' .. t .. '>"' end
  if depth > 8 or seen[v] then return '"..."' end
  seen[v] = true
  local parts = {}
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  local array = n > 0
  for i = 1, n do if v[i] == nil then array = false break end end
  if array then
    for i = 1, n do parts[i] = stable_json(v[i], depth + 1, seen) end
    seen[v] = nil
    return "[" .. concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for i, k in ipairs(keys) do parts[i] = stable_json(tostring(k), 0, {}) .. ":" .. stable_json(v[k], depth + 1, seen) end
  seen[v] = nil
  return "{" .. concat(parts, ",") .. "}"
end
M.stable_json = function(v) return stable_json(v, 0, {}) end

-- A value as it appears in a message: strings quoted, tables as JSON.
function M.show(v)
  if v == nil or v == NIL then return "nil" end
  if type(v) == "string" then return '"' .. clip(v) .. '"' end
  if type(v) == "table" then return clip(stable_json(v, 0, {})) end
  return tostring(v)
end

-- A copy that JSON can carry: functions and cycles become text.
local function sanitize(v, depth)
  depth = depth or 0
  local t = type(v)
  if t == "string" then return clip(v, 2000) end
  if t == "number" then
    if v ~= v or v == huge or v == -huge then return tostring(v) end
    return v
  end
  if t == "boolean" or t == "nil" then return v end
  if t ~= "table" then return "<" .. t .. ">" end
  if depth > 6 then return "<table>" end
  local out, n = {}, 0
  for k, x in pairs(v) do
    n = n + 1
    if n > 200 then break end
    local key = k
    if type(k) ~= "string" and type(k) ~= "number" then key = tostring(k) end
    out[key] = sanitize(x, depth + 1)
  end
  return out
end
M.sanitize = sanitize

-- A quoted step value is a Python string literal, as Tactus reads it
-- (ast.literal_eval): "double" or 'single' quotes, the same escapes in
-- both.  Returns the text and whether it was quoted; a malformed literal
-- keeps its text between the quotes.
local function unquote(s)
  s = trim(s)
  local q = sub(s, 1, 1)
  if (q == '"' or q == "'") and #s >= 2 and sub(s, -1) == q then
    local v = literal.string(s)
    if v ~= nil then return v, true end
    return sub(s, 2, -2), true
  end
  return s, false
end
M.unquote = unquote

function M.parse_value(s)
  s = trim(s)
  local u, quoted = unquote(s)
  if quoted then return u end
  local l = lower(s)
  if l == "true" then return true end
  if l == "false" then return false end
  if l == "nil" or l == "none" or l == "null" then return NIL end
  local n = tonumber(s)
  if n ~= nil and find(s, "^[%-%+]?[%d%.]") then return n end
  local c = sub(s, 1, 1)
  if c == "{" or c == "[" then
    local ok, v = pcall(T.json_decode, s)
    if ok then
      if v == nil then return NIL end
      return v
    end
    v = literal.eval(s)
    if v ~= nil then return v end
  end
  return s
end

-- A structured argument (tool arguments, mocked data): JSON or a Python
-- literal, optionally inside quotes ("{'k': 'v'}"), as Tactus reads it.
-- Returns the value, or nil and why.
function M.parse_structured(text)
  local s = unquote(text)
  local ok, v = pcall(T.json_decode, s)
  if ok and v ~= nil then return v end
  local why
  v, why = literal.eval(s)
  if v ~= nil then return v end
  return nil, why or "no value"
end

local function is_array(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  for i = 1, n do if t[i] == nil then return false end end
  return true
end
M.is_array = is_array

local deep_equal
deep_equal = function(a, b)
  if a == b then return true end
  if type(a) == "number" and type(b) == "number" then return abs(a - b) <= 1e-9 * (1 + abs(b)) end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do if not deep_equal(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

-- Tactus compares loosely: booleans against "true"/"false", numbers
-- against numeric text, everything else as text.
local function loose_equal(actual, expected)
  if expected == NIL then return actual == nil end
  if type(expected) == "boolean" then
    if type(actual) == "boolean" then return actual == expected end
    return actual ~= nil and lower(tostring(actual)) == tostring(expected)
  end
  if type(expected) == "number" then
    local n = type(actual) == "number" and actual or (type(actual) == "string" and tonumber(actual))
    return n ~= nil and n ~= false and deep_equal(n, expected)
  end
  if type(expected) == "table" then
    if type(actual) == "string" then
      local ok, v = pcall(T.json_decode, actual)
      return ok and deep_equal(v, expected)
    end
    return deep_equal(actual, expected)
  end
  if type(actual) == "table" then
    local ok, v = pcall(T.json_decode, expected)
    return ok and type(v) == "table" and deep_equal(actual, v)
  end
  if actual == nil then return false end
  return tostring(actual) == expected
end

local function get_path(root, path)
  if path == nil or path == "" then return root end
  local v = root
  for part in gmatch(path, "[^%.]+") do
    if type(v) ~= "table" then return nil end
    local x = v[part]
    if x == nil then
      local n = tonumber(part)
      if n then x = v[n] end
    end
    v = x
  end
  return v
end

local function as_text(v)
  if v == nil then return "" end
  if v == NIL then return "nil" end
  if type(v) == "string" then return v end
  if type(v) == "table" then return stable_json(v, 0, {}) end
  return tostring(v)
end

M.deep_equal, M.loose_equal, M.get_path, M.as_text = deep_equal, loose_equal, get_path, as_text

return M
