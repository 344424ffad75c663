-- Python literals, as Tactus reads step values with ast.literal_eval:
-- 'single' and "double" quoted strings with Python's escapes (r'' raw
-- strings too), numbers, True / False / None, lists [..], tuples (..) and
-- dicts {k: v}.  JSON's true / false / null are accepted as well, so one
-- reader takes both spellings of a step's arguments.
--
--   literal.eval(text, none)   the value of TEXT (one literal, spaces
--                              around it allowed), or nil, why.  None
--                              becomes NONE (nil unless given): nil in a
--                              dict drops the key, as a JSON null does.
--   literal.string(text)       TEXT as a whole quoted string literal, or nil
local T = ...
local sub, byte, char, find, match, format = string.sub, string.byte, string.char, string.find,
  string.match, string.format
local concat = table.concat
local tonumber, type, error, pcall = tonumber, type, error, pcall

local ESCAPES = { n = "\n", t = "\t", r = "\r", a = "\a", b = "\b", f = "\f", v = "\v",
                  ["\\"] = "\\", ["'"] = "'", ['"'] = '"', ["\n"] = "" }

-- UTF-8 bytes of code point CP.
local function utf8_char(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then return char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40) end
  if cp < 0x10000 then
    return char(0xE0 + math.floor(cp / 0x1000), 0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return char(0xF0 + math.floor(cp / 0x40000), 0x80 + math.floor(cp / 0x1000) % 0x40,
    0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

local function bad(why, pos) error({ literal = true, message = why .. " (at character " .. pos .. ")" }, 0) end

-- The string literal at I (its opening quote); returns the text and the
-- position after the closing quote.
local function read_string(s, i, raw)
  local q = sub(s, i, i)
  local triple = sub(s, i, i + 2) == q .. q .. q
  local close = triple and (q .. q .. q) or q
  local buf, j = {}, i + #close
  while true do
    local c = sub(s, j, j)
    if c == "" then bad("unterminated string", i) end
    if sub(s, j, j + #close - 1) == close then return concat(buf), j + #close end
    if c == "\n" and not triple then bad("newline inside a string", j) end
    if c == "\\" then
      local e = sub(s, j + 1, j + 1)
      if raw then
        buf[#buf + 1] = "\\" .. e
        j = j + 2
      elseif ESCAPES[e] then
        buf[#buf + 1] = ESCAPES[e]
        j = j + 2
      elseif find(e, "^[0-7]") then
        local oct = match(s, "^[0-7][0-7]?[0-7]?", j + 1)
        buf[#buf + 1] = utf8_char(tonumber(oct, 8))
        j = j + 1 + #oct
      elseif e == "x" or e == "u" or e == "U" then
        local n = e == "x" and 2 or e == "u" and 4 or 8
        local hex = sub(s, j + 2, j + 1 + n)
        if #hex ~= n or find(hex, "[^%x]") then bad("bad \\" .. e .. " escape", j) end
        buf[#buf + 1] = utf8_char(tonumber(hex, 16))
        j = j + 2 + n
      else
        buf[#buf + 1] = "\\" .. e -- Python keeps an unknown escape as it is
        j = j + 2
      end
    else
      buf[#buf + 1] = c
      j = j + 1
    end
  end
end

local function skip(s, i) return match(s, "^%s*()", i) end

local read_value

local function read_items(s, i, close, none)
  local list, n = {}, 0
  i = skip(s, i)
  if sub(s, i, i) == close then return list, i + 1, 0 end
  while true do
    local v
    v, i = read_value(s, i, none)
    n = n + 1
    list[n] = v
    i = skip(s, i)
    local c = sub(s, i, i)
    if c == close then return list, i + 1, n end
    if c ~= "," then bad("expected ',' or '" .. close .. "'", i) end
    i = skip(s, i + 1)
    if sub(s, i, i) == close then return list, i + 1, n end -- a trailing comma
  end
end

read_value = function(s, i, none)
  i = skip(s, i)
  local c = sub(s, i, i)
  if c == "'" or c == '"' then
    local text, j = read_string(s, i, false)
    -- Adjacent literals are one string, as in Python ('a' 'b').
    local k = skip(s, j)
    while sub(s, k, k) == "'" or sub(s, k, k) == '"' do
      local more
      more, j = read_string(s, k, false)
      text = text .. more
      k = skip(s, j)
    end
    return text, j
  end
  if (c == "r" or c == "R") and find(sub(s, i + 1, i + 1), "^['\"]") then
    return read_string(s, i + 1, true)
  end
  if c == "[" then
    local list, j = read_items(s, i + 1, "]", none)
    return list, j
  end
  if c == "(" then
    local list, j, n = read_items(s, i + 1, ")", none)
    if n == 1 and not find(sub(s, i, j), ",%s*%)$") then return list[1], j end -- (x) is x
    return list, j
  end
  if c == "{" then
    local dict = {}
    i = skip(s, i + 1)
    if sub(s, i, i) == "}" then return dict, i + 1 end
    while true do
      local k, v
      k, i = read_value(s, i, none)
      i = skip(s, i)
      if sub(s, i, i) ~= ":" then bad("expected ':' in a dict", i) end
      v, i = read_value(s, i + 1, none)
      if k == nil then bad("a dict key cannot be None", i) end
      if type(k) == "table" then bad("a dict key must be a string or a number", i) end
      dict[k] = v
      i = skip(s, i)
      c = sub(s, i, i)
      if c == "}" then return dict, i + 1 end
      if c ~= "," then bad("expected ',' or '}'", i) end
      i = skip(s, i + 1)
      if sub(s, i, i) == "}" then return dict, i + 1 end
    end
  end
  local word = match(s, "^[%a_][%w_]*", i)
  if word then
    if word == "True" or word == "true" then return true, i + #word end
    if word == "False" or word == "false" then return false, i + #word end
    if word == "None" or word == "null" then return none, i + #word end
    bad("'" .. word .. "' is not a literal", i)
  end
  local num = match(s, "^[%+%-]?%d[%d_]*%.?[%d_]*[eE][%+%-]?%d+", i)
    or match(s, "^[%+%-]?%d[%d_]*%.?[%d_]*", i) or match(s, "^[%+%-]?%.%d+[eE][%+%-]?%d+", i)
    or match(s, "^[%+%-]?%.%d+", i)
  if num then
    local hex = match(s, "^[%+%-]?0[xX]%x+", i)
    if hex then
      local sign = sub(hex, 1, 1) == "-" and -1 or 1
      return sign * tonumber((hex:gsub("^[%+%-]?0[xX]", "")), 16), i + #hex
    end
    local v = tonumber((num:gsub("_", "")))
    if v == nil then bad("bad number '" .. num .. "'", i) end
    return v, i + #num
  end
  if c == "" then bad("no value", i) end
  bad("unexpected '" .. c .. "'", i)
end

local M = {}

function M.eval(text, none)
  if type(text) ~= "string" then return nil, "not text" end
  local ok, v, j = pcall(read_value, text, 1, none)
  if not ok then
    if type(v) == "table" and v.literal then return nil, v.message end
    error(v, 0)
  end
  j = skip(text, j)
  if j <= #text then return nil, format("unexpected text after the value (at character %d)", j) end
  return v
end

function M.string(text)
  local s = match(text, "^%s*(.-)%s*$")
  local q = sub(s, 1, 1)
  local raw = false
  if (q == "r" or q == "R") and #s >= 3 then raw, s, q = true, sub(s, 2), sub(s, 2, 2) end
  if (q ~= "'" and q ~= '"') or #s < 2 or sub(s, -1) ~= q then return nil end
  local ok, v, j = pcall(read_string, s, 1, raw)
  if not ok or j ~= #s + 1 then return nil end
  return v
end

-- UTF-8 of a code point (JSON \u escapes in step values use it too).
M.utf8_char = utf8_char

return M
