-- `tactus-run test` and `eval` (cli/cmd_test.c).  Called by the prelude as
-- spec(ctx, chunk, start) when start.mode is not "run"; what it returns is
-- run.finish's result.  Everything here runs inside the sandbox: the
-- Gherkin text and the custom steps come from the untrusted .tac file.
--
--   mode "list"      parse every Specification; return the scenarios
--   mode "scenario"  run the scenario start.scenario (this VM runs only it)
--   mode "eval"      run every Evaluation's dataset through the procedure
--
-- The step vocabulary, the value syntax and the pattern dialect are listed
-- in docs/testing.md.
local ctx, chunk, start = ...
local G, T = ctx.G, ctx.T

-- Library functions are kept as locals: the procedure runs in this same
-- Lua state and could rewrite the shared string metatable later.
local type, pairs, ipairs, tostring, tonumber, error, pcall, xpcall, setmetatable, getmetatable =
  type, pairs, ipairs, tostring, tonumber, error, pcall, xpcall, setmetatable, getmetatable
local unpack, next = unpack, next
local sub, find, match, gmatch, gsub, lower, upper, byte, rep, format =
  string.sub, string.find, string.match, string.gmatch, string.gsub, string.lower, string.upper,
  string.byte, string.rep, string.format
local concat, sort = table.concat, table.sort
local abs, huge, floor = math.abs, math.huge, math.floor

---------------------------------------------------------------------------
-- Small helpers
---------------------------------------------------------------------------

local function trim(s) return match(s, "^%s*(.-)%s*$") end

local NIL = setmetatable({}, { __tostring = function() return "nil" end })

-- A failed expectation: the step fails with MESSAGE.
local FAIL = {}
local function fail(message) error(setmetatable({ message = message }, FAIL), 0) end

local function error_message(e)
  if type(e) == "table" and getmetatable(e) == FAIL then return e.message end
  return T.error_text(e)
end

local function json(v)
  local ok, s = pcall(T.json_encode, v)
  if ok then return s end
  return tostring(v)
end

local function clip(s, n)
  n = n or 300
  if #s > n then return sub(s, 1, n) .. "..." end
  return s
end

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

-- A value as it appears in a message: strings quoted, tables as JSON.
local function show(v)
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

-- "double quoted" values know the escapes \n \t \" and \\; 'single
-- quoted' ones are taken as they are.
local DQ_ESC = { n = "\n", t = "\t", ['"'] = '"', ["\\"] = "\\" }
local function unquote(s)
  s = trim(s)
  local q = sub(s, 1, 1)
  if (q == '"' or q == "'") and #s >= 2 and sub(s, -1) == q then
    local body = sub(s, 2, -2)
    if q == '"' then body = gsub(body, "\\([nt\"\\])", DQ_ESC) end
    return body, true
  end
  return s, false
end

-- Step values follow Tactus: "quoted" or 'quoted' strings, numbers,
-- true/false/True/False, nil/None/null, JSON arrays and objects; anything
-- else is the text itself.
local function parse_value(s)
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
  end
  return s
end

local function is_array(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  for i = 1, n do if t[i] == nil then return false end end
  return true
end

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

---------------------------------------------------------------------------
-- Similarity: normalized Levenshtein distance
---------------------------------------------------------------------------

local function levenshtein(a, b)
  local la, lb = #a, #b
  if la == 0 then return lb end
  if lb == 0 then return la end
  local prev, cur = {}, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur[0] = i
    local ca = byte(a, i)
    for j = 1, lb do
      local v = prev[j] + 1
      local w = cur[j - 1] + 1
      if w < v then v = w end
      w = prev[j - 1] + (ca == byte(b, j) and 0 or 1)
      if w < v then v = w end
      cur[j] = v
    end
    prev, cur = cur, prev
  end
  return prev[lb]
end

local function normalize_text(s)
  return trim(gsub(lower(s), "%s+", " "))
end

-- 1 - distance / longer length, after lower-casing and collapsing spaces;
-- 1.0 is identical.  Texts are cut at 4000 bytes.
local function similarity(a, b)
  a, b = sub(normalize_text(a), 1, 4000), sub(normalize_text(b), 1, 4000)
  local m = #a > #b and #a or #b
  if m == 0 then return 1 end
  return 1 - levenshtein(a, b) / m
end

---------------------------------------------------------------------------
-- Patterns: a backtracking subset of Python's re, used by "should match
-- pattern" and field.regex / field.matches.
--   literals, . (not newline), [abc] [^a-z] classes, \d \w \s \D \W \S,
--   \b \B, ^ $ (whole text; $ also before a final newline), \A \Z,
--   groups (...) (?:...) (?P<name>...) (no backreferences), |,
--   * + ? {n} {n,} {n,m} and their lazy forms (*? +? ?? {n,m}?),
--   a leading (?i) for case-insensitive matching.
-- A search: the pattern may match anywhere unless anchored.
---------------------------------------------------------------------------

local REGEX_BUDGET = 200000

local function is_digit(b) return b >= 48 and b <= 57 end
local function is_word(b)
  return (b >= 48 and b <= 57) or (b >= 65 and b <= 90) or (b >= 97 and b <= 122) or b == 95
end
local function is_space(b) return b == 32 or (b >= 9 and b <= 13) end
local function lower_b(b) if b >= 65 and b <= 90 then return b + 32 end return b end
local function upper_b(b) if b >= 97 and b <= 122 then return b - 32 end return b end

local function regex_compile(pat)
  local pos, n = 1, #pat
  local icase = false
  if sub(pat, 1, 4) == "(?i)" then icase, pos = true, 5 end

  local function perr(msg)
    error(setmetatable({ message = "bad pattern \"" .. clip(pat, 80) .. "\": " .. msg
      .. " (at character " .. pos .. ")" }, FAIL), 0)
  end

  local function class_escape(e)
    if e == "d" then return is_digit end
    if e == "D" then return function(b) return not is_digit(b) end end
    if e == "w" then return is_word end
    if e == "W" then return function(b) return not is_word(b) end end
    if e == "s" then return is_space end
    if e == "S" then return function(b) return not is_space(b) end end
    return nil
  end
  local LIT = { n = 10, t = 9, r = 13, f = 12, v = 11, a = 7, ["0"] = 0 }

  local function parse_class()
    pos = pos + 1 -- [
    local negate = false
    if sub(pat, pos, pos) == "^" then negate, pos = true, pos + 1 end
    local items = {}
    local first = true
    while true do
      local c = sub(pat, pos, pos)
      if c == "" then perr("missing ]") end
      if c == "]" and not first then pos = pos + 1 break end
      first = false
      local lo
      if c == "\\" then
        local e = sub(pat, pos + 1, pos + 1)
        if e == "" then perr("trailing backslash") end
        pos = pos + 2
        local f = class_escape(e)
        if f then items[#items + 1] = f else lo = LIT[e] or byte(e) end
      else
        lo = byte(c)
        pos = pos + 1
      end
      if lo then
        if sub(pat, pos, pos) == "-" and sub(pat, pos + 1, pos + 1) ~= "]" and sub(pat, pos + 1, pos + 1) ~= "" then
          local hc = sub(pat, pos + 1, pos + 1)
          local hi
          if hc == "\\" then
            local e = sub(pat, pos + 2, pos + 2)
            hi = LIT[e] or byte(e)
            pos = pos + 3
          else
            hi = byte(hc)
            pos = pos + 2
          end
          if hi < lo then perr("bad range in a [...] class") end
          local a, z = lo, hi
          items[#items + 1] = function(b) return b >= a and b <= z end
        else
          local x = lo
          items[#items + 1] = function(b) return b == x end
        end
      end
    end
    local function test(b)
      for i = 1, #items do if items[i](b) then return true end end
      return false
    end
    local f = test
    if icase then f = function(b) return test(b) or test(lower_b(b)) or test(upper_b(b)) end end
    if negate then
      local g = f
      f = function(b) return not g(b) end
    end
    return { t = "set", f = f }
  end

  local parse_alt

  local function parse_atom()
    local c = sub(pat, pos, pos)
    if c == "(" then
      pos = pos + 1
      if sub(pat, pos, pos + 1) == "?:" then
        pos = pos + 2
      elseif sub(pat, pos, pos + 2) == "?P<" or (sub(pat, pos, pos + 1) == "?<"
          and not find(sub(pat, pos + 2, pos + 2), "[=!]")) then
        local close = find(pat, ">", pos, true)
        if not close then perr("unterminated group name") end
        pos = close + 1
      elseif sub(pat, pos, pos) == "?" then
        perr("lookarounds, backreferences and inline flags are not supported")
      end
      local node = parse_alt()
      if sub(pat, pos, pos) ~= ")" then perr("missing )") end
      pos = pos + 1
      return node
    elseif c == "[" then
      return parse_class()
    elseif c == "." then
      pos = pos + 1
      return { t = "set", f = function(b) return b ~= 10 end }
    elseif c == "^" then
      pos = pos + 1
      return { t = "bol" }
    elseif c == "$" then
      pos = pos + 1
      return { t = "eol" }
    elseif c == "\\" then
      local e = sub(pat, pos + 1, pos + 1)
      if e == "" then perr("trailing backslash") end
      pos = pos + 2
      if e == "b" then return { t = "wordb", negate = false } end
      if e == "B" then return { t = "wordb", negate = true } end
      if e == "A" then return { t = "bol" } end
      if e == "Z" or e == "z" then return { t = "eos" } end
      if find(e, "%d") and e ~= "0" then perr("backreferences are not supported") end
      local f = class_escape(e)
      if f then return { t = "set", f = f } end
      return { t = "char", c = LIT[e] or byte(e) }
    elseif c == "*" or c == "+" or c == "?" then
      perr("nothing to repeat")
    end
    pos = pos + 1
    return { t = "char", c = byte(c) }
  end

  local function parse_quant(node)
    local c = sub(pat, pos, pos)
    local min, max
    if c == "*" then min, max = 0, huge; pos = pos + 1
    elseif c == "+" then min, max = 1, huge; pos = pos + 1
    elseif c == "?" then min, max = 0, 1; pos = pos + 1
    elseif c == "{" then
      local a, b, close = match(pat, "^{(%d*),?(%d*)}()", pos)
      local body = close and sub(pat, pos + 1, close - 2)
      if not close or body == "" or body == "," then return node end -- a literal {
      min = tonumber(a) or 0
      if find(body, ",", 1, true) then max = tonumber(b) or huge else max = min end
      if max < min then perr("bad {m,n} repeat") end
      pos = close
    else
      return node
    end
    local greedy = true
    if sub(pat, pos, pos) == "?" then greedy, pos = false, pos + 1 end
    if find(sub(pat, pos, pos), "^[%*%+]") then perr("multiple repeat") end
    return { t = "rep", node = node, min = min, max = max, greedy = greedy }
  end

  local function parse_concat()
    local items = {}
    while pos <= n do
      local c = sub(pat, pos, pos)
      if c == "|" or c == ")" then break end
      items[#items + 1] = parse_quant(parse_atom())
    end
    return { t = "seq", items = items }
  end

  parse_alt = function()
    local alts = { parse_concat() }
    while sub(pat, pos, pos) == "|" do
      pos = pos + 1
      alts[#alts + 1] = parse_concat()
    end
    if #alts == 1 then return alts[1] end
    return { t = "alt", alts = alts }
  end

  local tree = parse_alt()
  if pos <= n then perr("unbalanced )") end

  local st = { s = "", n = 0, steps = 0 }
  local function tick()
    st.steps = st.steps + 1
    if st.steps > REGEX_BUDGET then
      error(setmetatable({ message = "pattern \"" .. clip(pat, 80) .. "\" is too complex for this text" }, FAIL), 0)
    end
  end

  local build
  build = function(node)
    local t = node.t
    if t == "char" then
      local c = node.c
      if icase then
        c = lower_b(c)
        return function(i, k)
          local b = byte(st.s, i)
          if b and lower_b(b) == c then return k(i + 1) end
          return false
        end
      end
      return function(i, k)
        if byte(st.s, i) == c then return k(i + 1) end
        return false
      end
    elseif t == "set" then
      local f = node.f
      return function(i, k)
        local b = byte(st.s, i)
        if b and f(b) then return k(i + 1) end
        return false
      end
    elseif t == "bol" then
      return function(i, k) if i == 1 then return k(i) end return false end
    elseif t == "eol" then
      return function(i, k)
        if i == st.n + 1 or (i == st.n and byte(st.s, i) == 10) then return k(i) end
        return false
      end
    elseif t == "eos" then
      return function(i, k) if i == st.n + 1 then return k(i) end return false end
    elseif t == "wordb" then
      local negate = node.negate
      return function(i, k)
        local a = i > 1 and is_word(byte(st.s, i - 1)) or false
        local b = i <= st.n and is_word(byte(st.s, i)) or false
        if (a ~= b) ~= negate then return k(i) end
        return false
      end
    elseif t == "seq" then
      local ms = {}
      for j, item in ipairs(node.items) do ms[j] = build(item) end
      local count = #ms
      if count == 0 then return function(i, k) return k(i) end end
      if count == 1 then return ms[1] end
      local function run(idx, i, k)
        if idx > count then return k(i) end
        return ms[idx](i, function(j) return run(idx + 1, j, k) end)
      end
      return function(i, k) return run(1, i, k) end
    elseif t == "alt" then
      local ms = {}
      for j, a in ipairs(node.alts) do ms[j] = build(a) end
      return function(i, k)
        for j = 1, #ms do
          tick()
          if ms[j](i, k) then return true end
        end
        return false
      end
    elseif t == "rep" and (node.node.t == "char" or node.node.t == "set") then
      -- One character at a time: count the run, then try the rest from
      -- the longest (or shortest) — no recursion per character.
      local inner, min, max, greedy = node.node, node.min, node.max, node.greedy
      local test = inner.f
      if inner.t == "char" then
        local c = inner.c
        if icase then
          c = lower_b(c)
          test = function(b) return lower_b(b) == c end
        else
          test = function(b) return b == c end
        end
      end
      return function(i, k)
        tick()
        local j, count = i, 0
        while count < max and j <= st.n and test(byte(st.s, j)) do
          j, count = j + 1, count + 1
        end
        if count < min then return false end
        if greedy then
          for c = count, min, -1 do
            tick()
            if k(i + c) then return true end
          end
        else
          for c = min, count do
            tick()
            if k(i + c) then return true end
          end
        end
        return false
      end
    elseif t == "rep" then
      local m, min, max, greedy = build(node.node), node.min, node.max, node.greedy
      local try
      try = function(count, i, k)
        tick()
        if greedy then
          if count < max and m(i, function(j)
                if j == i and count >= min then return false end
                return try(count + 1, j, k)
              end) then
            return true
          end
          return count >= min and k(i)
        end
        if count >= min and k(i) then return true end
        if count < max then
          return m(i, function(j)
            if j == i and count >= min then return false end
            return try(count + 1, j, k)
          end)
        end
        return false
      end
      return function(i, k) return try(0, i, k) end
    end
    error("regex: unknown node " .. tostring(t))
  end

  local matcher = build(tree)
  local function accept() return true end
  return function(s)
    st.s, st.n, st.steps = s, #s, 0
    for i = 1, #s + 1 do
      local ok, r = pcall(matcher, i, accept)
      if not ok then
        if type(r) == "table" and getmetatable(r) == FAIL then error(r, 0) end
        fail("pattern \"" .. clip(pat, 80) .. "\" could not be matched against a text of "
          .. #s .. " bytes: " .. T.error_text(r))
      end
      if r then return true end
    end
    return false
  end
end

local function regex_search(pat, s) return regex_compile(pat)(s) end

---------------------------------------------------------------------------
-- Finding the Specification texts without running the file: the literal
-- argument of every Specification(...) / Specifications(...) call.  A
-- script-mode file's body is its procedure, so it must not run before the
-- scenario's Given steps set its inputs.  Any call whose argument is not a
-- single string literal makes the result "dynamic" (the file is run and
-- the texts it declared are used instead).
---------------------------------------------------------------------------

local ESC = { n = "\n", t = "\t", r = "\r", a = "\a", b = "\b", f = "\f", v = "\v",
              ["\\"] = "\\", ['"'] = '"', ["'"] = "'", ["\n"] = "\n" }

local function long_bracket_at(src, i)
  local eq = match(src, "^%[(=*)%[", i)
  if not eq then return nil end
  return #eq, i + #eq + 2
end

local function read_long(src, i, level)
  local close = "]" .. rep("=", level) .. "]"
  local e = find(src, close, i, true)
  if not e then return nil, #src + 1 end
  return sub(src, i, e - 1), e + #close
end

local function read_quoted(src, i)
  local q = sub(src, i, i)
  local buf, j = {}, i + 1
  while true do
    local c = sub(src, j, j)
    if c == "" or c == "\n" then return nil, j end
    if c == q then return concat(buf), j + 1 end
    if c == "\\" then
      local e = sub(src, j + 1, j + 1)
      local d = match(src, "^%d%d?%d?", j + 1)
      if d then
        buf[#buf + 1] = string.char(tonumber(d) % 256)
        j = j + 1 + #d
      elseif e == "z" then
        j = match(src, "^%s*()", j + 2)
      else
        buf[#buf + 1] = ESC[e] or e
        j = j + 2
      end
    else
      buf[#buf + 1] = c
      j = j + 1
    end
  end
end

local function static_specs(src)
  local texts, dynamic = {}, false
  local i, n = 1, #src
  local prev = ""
  if sub(src, 1, 1) == "#" then i = (find(src, "\n", 1, true) or n) + 1 end
  while i <= n do
    local c = sub(src, i, i)
    if c == "-" and sub(src, i + 1, i + 1) == "-" then
      local level, cs = long_bracket_at(src, i + 2)
      if level then
        local _, after = read_long(src, cs, level)
        i = after
      else
        i = (find(src, "\n", i, true) or n) + 1
      end
    elseif c == '"' or c == "'" then
      local _, after = read_quoted(src, i)
      i, prev = after, '"'
    elseif c == "[" and long_bracket_at(src, i) then
      local level, cs = long_bracket_at(src, i)
      local _, after = read_long(src, cs, level)
      i, prev = after, '"'
    elseif find(c, "^[%a_]") then
      local word = match(src, "^[%w_]+", i)
      local j = i + #word
      if (word == "Specification" or word == "Specifications") and prev ~= "." and prev ~= ":" then
        local k = match(src, "^%s*()", j)
        local paren = false
        if sub(src, k, k) == "(" then paren, k = true, match(src, "^%s*()", k + 1) end
        local d = sub(src, k, k)
        local text, after
        if d == '"' or d == "'" then
          text, after = read_quoted(src, k)
        elseif d == "[" and long_bracket_at(src, k) then
          local level, cs = long_bracket_at(src, k)
          text, after = read_long(src, cs, level)
          if text then text = gsub(text, "^\r?\n", "") end
        end
        if text then
          local m = match(src, "^%s*()", after)
          if paren and sub(src, m, m) ~= ")" then dynamic = true
          else texts[#texts + 1] = text end
          i = after
        else
          dynamic = true
          i = j
        end
      else
        i = j
      end
      prev = "w"
    else
      if not find(c, "^%s") then prev = c end
      i = i + 1
    end
  end
  return texts, dynamic
end

---------------------------------------------------------------------------
-- Gherkin: Feature, Background, Scenario / Example, Scenario Outline /
-- Template with Examples / Scenarios tables, Rule (a heading only), steps
-- Given / When / Then / And / But / *, doc strings (""" or ```), data
-- tables, # comments; @tags are read and ignored.
---------------------------------------------------------------------------

local HEADINGS = {
  ["feature"] = "feature", ["background"] = "background", ["scenario"] = "scenario",
  ["example"] = "scenario", ["scenario outline"] = "outline", ["scenario template"] = "outline",
  ["examples"] = "examples", ["scenarios"] = "examples", ["rule"] = "rule",
}
local STEP_WORDS = { given = "given", when = "when", ["then"] = "then", ["and"] = false, but = false, ["*"] = false }

local function parse_row(line)
  local cells = {}
  local body = match(line, "^|(.*)|%s*$")
  if not body then return nil end
  for cell in gmatch(body .. "|", "(.-)|") do cells[#cells + 1] = trim(cell) end
  return cells
end

local function parse_gherkin(text, spec_no, features)
  local lineno = 0
  local feature, current, last_step, kind
  local in_doc, doc_delim, doc_lines, doc_indent
  local function perr(msg)
    error({ type = "SpecificationError", message = "Specification " .. spec_no .. ", line " .. lineno .. ": " .. msg }, 0)
  end
  local function need_feature()
    if not feature then
      feature = { name = "(unnamed feature)", scenarios = {}, line = lineno }
      features[#features + 1] = feature
    end
  end
  local function close_block()
    current, last_step, kind = nil, nil, nil
  end
  text = gsub(text, "\r\n", "\n")
  for raw in gmatch(text .. "\n", "([^\n]*)\n") do
    lineno = lineno + 1
    local line = trim(raw)
    if in_doc then
      if line == doc_delim then
        last_step.doc = concat(doc_lines, "\n")
        in_doc = false
      else
        local strip = sub(raw, 1, doc_indent)
        if find(strip, "^%s*$") then raw = sub(raw, doc_indent + 1) else raw = gsub(raw, "^%s+", "") end
        doc_lines[#doc_lines + 1] = raw
      end
    elseif line == "" or sub(line, 1, 1) == "#" or sub(line, 1, 1) == "@" then
      -- blank, comment, tags
    elseif line == '"""' or line == "```" or find(line, '^"""') or find(line, "^```") then
      if not last_step then perr("a doc string must follow a step") end
      in_doc, doc_delim, doc_lines = true, sub(line, 1, 3), {}
      doc_indent = #match(raw, "^%s*")
    elseif sub(line, 1, 1) == "|" then
      local cells = parse_row(line)
      if not cells then perr("a table row must start and end with |") end
      if current and current.examples_open then
        local ex = current.examples[#current.examples]
        if ex.header == nil then ex.header = cells
        else
          if #cells ~= #ex.header then perr("this Examples row has " .. #cells .. " cells, the header " .. #ex.header) end
          ex.rows[#ex.rows + 1] = cells
        end
      elseif last_step then
        last_step.table = last_step.table or {}
        last_step.table[#last_step.table + 1] = cells
      else
        perr("a table must follow a step or Examples:")
      end
    else
      local head, rest = match(line, "^([%a][%a ]-)%s*:%s*(.*)$")
      local heading = head and HEADINGS[lower(head)]
      if heading == "feature" then
        close_block()
        feature = { name = rest ~= "" and rest or "(unnamed feature)", scenarios = {}, line = lineno }
        features[#features + 1] = feature
      elseif heading == "rule" then
        close_block()
        need_feature()
      elseif heading == "background" then
        need_feature()
        close_block()
        if feature.background then perr("a second Background in the same Feature") end
        current = { background = true, steps = {}, line = lineno }
        feature.background = current
      elseif heading == "scenario" or heading == "outline" then
        need_feature()
        close_block()
        if rest == "" then perr("a Scenario needs a name") end
        current = { name = rest, steps = {}, line = lineno, outline = heading == "outline",
                    examples = heading == "outline" and {} or nil }
        feature.scenarios[#feature.scenarios + 1] = current
      elseif heading == "examples" then
        if not (current and current.outline) then perr("Examples: outside a Scenario Outline") end
        current.examples[#current.examples + 1] = { header = nil, rows = {}, name = rest }
        current.examples_open = true
        last_step = nil
      else
        local word, step_text = match(line, "^(%S+)%s+(.+)$")
        local w = word and lower(word)
        if w ~= nil and STEP_WORDS[w] ~= nil then
          if not current then perr("a step outside a Scenario or Background: " .. line) end
          if current.examples_open then perr("a step after Examples: " .. line) end
          local k = STEP_WORDS[w] or kind or "given"
          kind = k
          last_step = { keyword = word, kind = k, text = trim(step_text), line = lineno }
          current.steps[#current.steps + 1] = last_step
        elseif current and (#current.steps > 0 or current.examples_open) then
          perr("expected a step (Given, When, Then, And, But), got: " .. line)
        elseif not current and not feature then
          perr("expected Feature:, Scenario: or a comment, got: " .. line)
        end
        -- else: a description line under a heading
      end
    end
  end
  if in_doc then perr("a doc string is not closed (" .. doc_delim .. ")") end
end

local function substitute(s, row, header)
  if s == nil then return nil end
  for i, h in ipairs(header) do
    s = gsub(s, "<" .. gsub(h, "%p", "%%%0") .. ">", (gsub(row[i], "%%", "%%%%")))
  end
  return s
end

local function copy_step(step, row, header)
  local c = { keyword = step.keyword, kind = step.kind, line = step.line, background = step.background }
  c.text = header and substitute(step.text, row, header) or step.text
  c.doc = header and substitute(step.doc, row, header) or step.doc
  if step.table then
    c.table = {}
    for i, r in ipairs(step.table) do
      c.table[i] = {}
      for j, cell in ipairs(r) do c.table[i][j] = header and substitute(cell, row, header) or cell end
    end
  end
  return c
end

-- All scenarios of all Specification texts, outlines expanded, each with
-- its Background steps in front.  Names are unique.
local function collect_scenarios(texts)
  local features = {}
  for i, text in ipairs(texts) do
    if type(text) ~= "string" then
      error({ type = "SpecificationError", message = "Specification " .. i .. " is not a string" }, 0)
    end
    parse_gherkin(text, i, features)
  end
  local list, seen = {}, {}
  local function add(feature, name, outline, steps, line)
    local base, k = name, 1
    while seen[name] do
      k = k + 1
      name = base .. " (" .. k .. ")"
    end
    seen[name] = true
    list[#list + 1] = { name = name, feature = feature.name, outline = outline, steps = steps, line = line }
  end
  for _, feature in ipairs(features) do
    local bg = {}
    if feature.background then
      for _, s in ipairs(feature.background.steps) do
        local c = copy_step(s)
        c.background = true
        bg[#bg + 1] = c
      end
    end
    for _, sc in ipairs(feature.scenarios) do
      if sc.outline then
        local n = 0
        for _, ex in ipairs(sc.examples) do
          for _, row in ipairs(ex.rows) do
            n = n + 1
            local steps = {}
            for _, s in ipairs(bg) do steps[#steps + 1] = copy_step(s) end
            for _, s in ipairs(sc.steps) do steps[#steps + 1] = copy_step(s, row, ex.header) end
            add(feature, substitute(sc.name, row, ex.header) .. " (example " .. n .. ")", sc.name, steps, sc.line)
          end
        end
      else
        local steps = {}
        for _, s in ipairs(bg) do steps[#steps + 1] = copy_step(s) end
        for _, s in ipairs(sc.steps) do steps[#steps + 1] = copy_step(s) end
        add(feature, sc.name, nil, steps, sc.line)
      end
    end
  end
  return list, features
end

---------------------------------------------------------------------------
-- The world of one scenario: what the Given steps set up, the outcome of
-- the run, what was called.
---------------------------------------------------------------------------

local W = {
  mock = start.mock and true or ctx.mock_all,
  loaded = false, ran = false, runs = 0,
  given_params = {}, given_mocks = {},
  agent_entries = {}, human = {}, human_by_message = {}, human_calls = {},
  host_calls = {}, agent_turns = {}, logs = {},
}

-- Human.* answered by the scenario's givens; in mock mode by a fixed
-- default; otherwise by the broker as in a run (approve none by default).
local HUMAN_KINDS = { approve = "approval", input = "input", review = "review", escalate = "escalation" }
local function human_default(kind, opts)
  if kind == "approval" then return true end
  if kind == "input" then
    if type(opts) == "table" and opts.default ~= nil then return opts.default end
    return ""
  end
  if kind == "review" then return { decision = "approve" } end
  return true
end

local function install_human(H, world)
  local orig = {}
  for name in pairs(HUMAN_KINDS) do orig[name] = H[name] end
  local function answer(kind, opts)
    local message = type(opts) == "table" and opts.message or (type(opts) == "string" and opts) or ""
    message = tostring(message)
    for _, r in ipairs(world.human_by_message) do
      if sub(message, 1, #r.prefix) == r.prefix then return true, r.value end
    end
    local v = world.human[kind]
    if v ~= nil then return true, v end
    if world.mock then return true, human_default(kind, opts) end
    return false
  end
  local function wrap(name, convert)
    local kind = HUMAN_KINDS[name]
    H[name] = function(opts, ...)
      local found, v = answer(kind, opts)
      local message = type(opts) == "table" and opts.message or opts
      if not found then
        local r = orig[name](opts, ...)
        world.human_calls[#world.human_calls + 1] = { kind = kind, message = message, value = r }
        return r
      end
      if v == NIL then v = nil end
      ctx.emit("control_response", { request_type = kind, value = sanitize(v), timed_out = false })
      local r = convert(v)
      world.human_calls[#world.human_calls + 1] = { kind = kind, message = message, value = r }
      return r
    end
  end
  wrap("approve", function(v)
    return v == true or v == "true" or v == "yes" or v == "y" or v == "approve" or v == "approved"
  end)
  wrap("input", function(v) if v == nil then return nil end return tostring(v) end)
  wrap("review", function(v) if type(v) ~= "table" then v = { decision = v } end return v end)
  wrap("escalate", function(v) return v end)
end

local function install_hooks()
  -- Given mocks win over the file's Mocks {}.
  local mocks = G.Mocks
  G.Mocks = function(spec)
    if type(spec) ~= "table" then return mocks(spec) end
    local kept = {}
    for k, v in pairs(spec) do if not W.given_mocks[k] then kept[k] = v end end
    return mocks(kept)
  end
  -- Host tools: record every call; a given mock answers without the broker.
  local host = ctx.call_host_tool
  ctx.call_host_tool = function(name, args)
    local rec = { name = name, args = args }
    W.host_calls[#W.host_calls + 1] = rec
    if W.given_mocks[name] then
      local ok, v = ctx.mock_answer(name, args)
      if ok then rec.result = v return v end
    end
    local v = host(name, args)
    rec.result = v
    return v
  end
  -- Agent turns and logs, from the events the runtime emits.
  local emit = ctx.emit
  ctx.emit = function(event_type, fields)
    if event_type == "agent_turn" and type(fields) == "table" and fields.stage == "completed" then
      local name = tostring(fields.agent_name)
      W.agent_turns[name] = (W.agent_turns[name] or 0) + 1
    elseif event_type == "log" and type(fields) == "table" and #W.logs < 1000 then
      W.logs[#W.logs + 1] = tostring(fields.message)
    end
    return emit(event_type, fields)
  end
  -- Tools and agents a Given step mocks answer from it even without --mock
  -- (tools.lua and agent.lua read this set).
  ctx.scenario_mocks = W.given_mocks
  install_human(G.Human, W)
end

local function traceback(e)
  if type(e) == "string" then return T.traceback(e, 2) end
  return e
end

local function record_outcome(ok, result)
  W.ran = true
  W.runs = W.runs + 1
  W.ok = ok
  if ok then
    W.result, W.err, W.err_text, W.err_type = result, nil, nil, nil
  else
    W.result = nil
    W.err = result
    local text = T.error_text(result)
    if type(result) == "string" then text = match(text, "^([^\n]*)") end
    W.err_text = text
    W.err_type = type(result) == "table" and type(result.type) == "string" and result.type or "RuntimeError"
    if type(result) == "table" and result.__waiting then
      W.err_text = "the procedure paused waiting for a human (" .. text .. "); answer it with a Given "
        .. "such as Human.approve will return true, or run with --mock"
    end
  end
end

-- Run the file's chunk: declarations for a Procedure file; for a script
-- (no Procedure) this IS the procedure run.
local function ensure_loaded()
  if W.loaded then return end
  W.loaded = true
  local ok, result = xpcall(chunk, traceback)
  local found, main = pcall(ctx.find_main)
  if ok and not found then ok, result = false, main end
  if ok and main == nil then
    W.script = true
    pcall(ctx.finish_script, result)
    record_outcome(true, result)
  elseif not ok then
    if main == nil then W.script = true end
    W.load_failed = true
    record_outcome(false, result)
  else
    W.main = main
  end
end

local function apply_params()
  local schema = W.main and W.main.input
  for k, v in pairs(W.given_params) do
    local f = type(schema) == "table" and schema[k]
    -- The schema types text (as for --param); field.any does not.
    if f ~= nil and ctx.is_field(f) and f.kind ~= "any" and v.typed ~= NIL then ctx.params[k] = v.raw
    elseif v.typed == NIL then ctx.params[k] = nil
    else ctx.params[k] = v.typed end
  end
end

local function run_procedure()
  ensure_loaded()
  if W.script or W.load_failed then
    if not W.ran then record_outcome(false, "the procedure did not run") end
    return
  end
  apply_params()
  local ok, result = xpcall(function() return ctx.run_main(W.main) end, traceback)
  record_outcome(ok, result)
end

local function need_run()
  if not W.ran then run_procedure() end
end

local function need_output()
  need_run()
  if not W.ok then fail("the procedure failed, so it has no output: " .. tostring(W.err_text)) end
  return W.result
end

local function setup_allowed(what)
  if W.script and W.ran then
    fail(what .. " comes too late: this script-mode file already ran (it runs when it is loaded, "
      .. "which a custom step before this one caused); put built-in Given steps first")
  end
end

local function set_param(k, raw, typed)
  setup_allowed("the input " .. k)
  W.given_params[k] = { raw = raw, typed = typed }
  -- Script mode reads ctx.params when its input {} runs; a Procedure's
  -- inputs are typed by its schema just before it runs (apply_params).
  if typed == NIL then ctx.params[k] = nil else ctx.params[k] = raw end
  if not W.loaded and type(G.input) == "table" then
    if typed == NIL then G.input[k] = nil else G.input[k] = typed end
  end
end

local function set_mock(name, entry)
  W.given_mocks[name] = true
  ctx.mocks[name] = entry
end

local function agent_entry(agent, fresh)
  local list = W.agent_entries[agent]
  if list == nil then list = {}; W.agent_entries[agent] = list end
  local e = list[#list]
  if e == nil or fresh then
    e = { tool_calls = {} }
    list[#list + 1] = e
  end
  W.given_mocks[agent] = true
  if #list == 1 then ctx.mocks[agent] = list[1] else ctx.mocks[agent] = { temporal = list } end
  return e
end

local function doc_or(step, v)
  if (v == nil or trim(v) == "" or trim(v) == ":") and step.doc then return step.doc, true end
  return v, false
end

local function tool_call_list(name)
  local list = {}
  local h = ctx.tools[name]
  if h then for _, c in ipairs(h.calls()) do list[#list + 1] = c end end
  for _, c in ipairs(W.host_calls) do if c.name == name then list[#list + 1] = c end end
  return list, h ~= nil
end

local function describe_calls(list)
  local parts = {}
  for i, c in ipairs(list) do
    if i > 3 then parts[#parts + 1] = "..." break end
    parts[#parts + 1] = show(c.args)
  end
  return concat(parts, ", ")
end

local function not_called_hint(name, declared)
  if declared or #W.host_calls > 0 then return "" end
  local names = {}
  for k in pairs(ctx.tools) do names[#names + 1] = k end
  sort(names)
  if #names == 0 then return " (the file declares no tools)" end
  return " (no tool named " .. name .. " is declared; the tools are: " .. concat(names, ", ") .. ")"
end

-- "a=1, b=\"x\" and c=true" -> { {key, value} }
local function parse_args_spec(s)
  local out, i = {}, 1
  s = trim(s)
  while i <= #s do
    local key, j = match(s, "^%s*([%w_%.]+)%s*=%s*()", i)
    if not key then fail("cannot read the arguments '" .. s .. "': expected key=value") end
    local c = sub(s, j, j)
    local raw, after
    if c == '"' or c == "'" then
      local close = find(s, c, j + 1, true)
      if not close then fail("unterminated quote in '" .. s .. "'") end
      raw, after = sub(s, j, close), close + 1
    else
      local stop = find(s, ",", j, true)
      local a = find(s, " and ", j, true)
      if a and (not stop or a < stop) then stop = a end
      raw = sub(s, j, (stop or #s + 1) - 1)
      after = stop or #s + 1
    end
    out[#out + 1] = { key = key, value = parse_value(raw), raw = trim(raw) }
    i = match(s, "^%s*,?%s*()", after)
    if sub(s, i, i + 3) == "and " then i = i + 4 end
  end
  return out
end

local function count_check(name, want, how)
  local list, declared = tool_call_list(name)
  local n = #list
  local times = function(x) return x .. (x == 1 and " time" or " times") end
  if how == "exactly" and n ~= want then
    fail("the " .. name .. " tool was called " .. times(n) .. ", expected exactly " .. times(want)
      .. (n == 0 and not_called_hint(name, declared) or ""))
  elseif how == "at least" and n < want then
    fail("the " .. name .. " tool was called " .. times(n) .. ", expected at least " .. times(want)
      .. (n == 0 and not_called_hint(name, declared) or ""))
  elseif how == "at most" and n > want then
    fail("the " .. name .. " tool was called " .. times(n) .. ", expected at most " .. times(want))
  end
end

local function fuzzy_check(what, actual, rest)
  -- rest: "text" | any of [...]  [with threshold x]
  local threshold = 0.8
  local body, th = match(rest, "^(.-)%s+with threshold%s+([%d%.]+%%?)%s*$")
  if body then
    rest = body
    local pct = sub(th, -1) == "%"
    threshold = tonumber((gsub(th, "%%", "")))
    if threshold == nil then fail("bad threshold '" .. th .. "'") end
    if pct or threshold > 1 then threshold = threshold / 100 end
  end
  local candidates
  local list = match(rest, "^any of%s+(.+)$")
  if list then
    local ok, v = pcall(T.json_decode, trim(list))
    if not ok or type(v) ~= "table" then fail("expected a JSON list after 'any of', got " .. list) end
    candidates = v
  else
    candidates = { (unquote(rest)) }
  end
  if type(actual) == "table" then
    local only
    for _, v in pairs(actual) do
      if type(v) == "string" then
        if only ~= nil then only = false break end
        only = v
      end
    end
    if not only then
      fail(what .. " is a table; name a field, e.g. the output <field> should fuzzy match \"...\"")
    end
    actual = only
  end
  local text = as_text(actual)
  local best, best_c = -1, nil
  for _, c in ipairs(candidates) do
    local r = similarity(text, as_text(c))
    if r > best then best, best_c = r, c end
  end
  if best_c == nil then fail("expected at least one text after 'any of', got " .. tostring(list)) end
  if best < threshold then
    if list then
      fail(format("%s is %s, not %.0f%% similar to any of %d texts; the closest is %s, %.0f%% similar",
        what, show(actual), threshold * 100, #candidates, show(best_c), best * 100))
    end
    fail(format("%s is %s, %.0f%% similar to %s; expected at least %.0f%%", what, show(actual), best * 100,
      show(best_c), threshold * 100))
  end
end

local function value_checks(subject, get)
  -- Steps shared by "the output <k> ..." and "the state <k> ...".
  return {
    ["should not be"] = function(k, v)
      local actual = get(k)
      local ev = parse_value(v)
      if loose_equal(actual, ev) then fail(subject .. " " .. k .. " should not be " .. show(ev) .. ", but it is") end
    end,
    ["should be"] = function(k, v)
      local actual = get(k)
      local ev = parse_value(v)
      if not loose_equal(actual, ev) then
        fail("expected " .. subject .. " " .. k .. " to be " .. show(ev) .. ", got " .. show(actual))
      end
    end,
    ["should exist"] = function(k)
      if get(k) == nil then fail(subject .. " " .. k .. " does not exist") end
    end,
    ["should not exist"] = function(k)
      local actual = get(k)
      if actual ~= nil then fail(subject .. " " .. k .. " exists (it is " .. show(actual) .. ")") end
    end,
    ["should contain"] = function(k, v, negate)
      local actual = get(k)
      local ev = parse_value(v)
      local found = false
      if type(actual) == "string" then
        found = find(actual, ev == NIL and "nil" or as_text(ev), 1, true) ~= nil
      elseif type(actual) == "table" then
        for _, x in ipairs(actual) do if loose_equal(x, ev) then found = true break end end
        if not found and type(ev) == "string" and actual[ev] ~= nil then found = true end
      end
      if negate and found then fail(subject .. " " .. k .. " contains " .. show(ev) .. ": " .. show(actual)) end
      if not negate and not found then
        fail("expected " .. subject .. " " .. k .. " to contain " .. show(ev) .. ", got " .. show(actual))
      end
    end,
    ["should match pattern"] = function(k, p, negate)
      local actual = as_text(get(k))
      local hit = regex_search(p, actual)
      if negate and hit then fail(subject .. " " .. k .. " " .. show(actual) .. " matches pattern \"" .. p .. "\"") end
      if not negate and not hit then
        fail(subject .. " " .. k .. " " .. show(actual) .. " does not match pattern \"" .. p .. "\"")
      end
    end,
    ["should match lua pattern"] = function(k, p)
      local actual = as_text(get(k))
      local ok, hit = pcall(find, actual, p)
      if not ok then fail("bad Lua pattern \"" .. p .. "\": " .. T.error_text(hit)) end
      if not hit then fail(subject .. " " .. k .. " " .. show(actual) .. " does not match Lua pattern \"" .. p .. "\"") end
    end,
    ["compare"] = function(k, op, v)
      local actual = get(k)
      local a = tonumber(actual)
      local b = tonumber(parse_value(v))
      if b == nil then fail("'" .. v .. "' is not a number") end
      if a == nil then fail(subject .. " " .. k .. " is " .. show(actual) .. ", not a number") end
      local okc = (op == "greater than" and a > b) or (op == "less than" and a < b)
        or (op == "at least" and a >= b) or (op == "at most" and a <= b)
      if not okc then fail("expected " .. subject .. " " .. k .. " to be " .. op .. " " .. v .. ", got " .. show(actual)) end
    end,
    ["should have items"] = function(k, count)
      local actual = get(k)
      if type(actual) ~= "table" then fail(subject .. " " .. k .. " is " .. show(actual) .. ", not a list") end
      local n = 0
      for _ in pairs(actual) do n = n + 1 end
      if n ~= tonumber(count) then fail(subject .. " " .. k .. " has " .. n .. " items, expected " .. count) end
    end,
    ["similar"] = function(k, text, pct)
      local threshold = (tonumber(pct) or 80) / 100
      fuzzy_check(subject .. " " .. k, get(k), '"' .. text .. '" with threshold ' .. threshold)
    end,
  }
end

local function output_get(k)
  local out = need_output()
  if type(out) ~= "table" then
    fail("the output is " .. show(out) .. ", not a table with a field " .. k)
  end
  return get_path(out, k)
end
local function state_get(k)
  need_run()
  return get_path(ctx.state, k)
end
local OUT = value_checks("output", output_get)
local STATE = value_checks("state", state_get)

local K = "([%w_][%w_%.]*)"      -- a key or a dotted path: a.b.1
local TOOL = '"?([%w_][%w_%.%-]*)"?' -- a tool name, optionally quoted

-- Built-in steps, tried in this order; the first pattern that matches the
-- whole step text wins.  fn(step, captures...)
local BUILTIN = {}
local function step(template, patterns, fn)
  if type(patterns) == "string" then patterns = { patterns } end
  BUILTIN[#BUILTIN + 1] = { template = template, patterns = patterns, fn = fn }
end

-- Givens ------------------------------------------------------------------
step("the procedure has started", { "^the procedure has started$", "^the procedure is ready$" }, function() end)

step("the input <name> is <value>", { "^the input " .. K .. " is%s*(.*)$", "^the " .. K .. " input is%s*(.*)$" },
  function(s, k, v)
    local text, from_doc = doc_or(s, v)
    if from_doc then set_param(k, text, parse_value(text)) return end
    if trim(text) == "" then fail("the input " .. k .. ": no value given") end
    set_param(k, (unquote(text)), parse_value(text))
  end)

step("the inputs are: (a table of | name | value | rows, or a JSON object doc string)",
  { "^the inputs? are:?$", "^the input is:?$" },
  function(s)
    if s.table then
      for i, row in ipairs(s.table) do
        local first = lower(row[1] or "")
        if not (i == 1 and (first == "name" or first == "key")) then
          set_param(row[1], (unquote(row[2] or "")), parse_value(row[2] or ""))
        end
      end
    elseif s.doc then
      local ok, v = pcall(T.json_decode, s.doc)
      if not ok or type(v) ~= "table" then fail("the inputs: the doc string is not a JSON object") end
      for k, x in pairs(v) do set_param(k, type(x) == "table" and json(x) or tostring(x), x) end
    else
      fail("the inputs: give a table (| name | value |) or a JSON doc string")
    end
  end)

step('the message is "<text>"', "^the message is%s*(.*)$", function(s, v)
  local text = doc_or(s, v)
  set_param("message", (unquote(text)), (unquote(text)))
end)

step("the state <key> is <value>", "^the state " .. K .. " is%s+(.+)$", function(_, k, v)
  setup_allowed("the state " .. k)
  local ev = parse_value(v)
  if ev == NIL then ev = nil end
  ctx.state[k] = ev
end)

step('the agent "<agent>" responds with "<text>"', '^the agent "([^"]+)" responds with%s*(.*)$', function(s, a, v)
  local text = doc_or(s, v)
  local list = W.agent_entries[a]
  local last = list and list[#list]
  local e = agent_entry(a, not (last and last.message == nil))
  e.message = (unquote(text))
end)

step('the agent "<agent>" calls tool "<tool>" with args {json}',
  { '^the agent "([^"]+)" calls tool "([^"]+)" with args%s*(.*)$', '^the agent "([^"]+)" calls tool "([^"]+)"$' },
  function(s, a, t, v)
    local text = doc_or(s, v)
    local args = {}
    if text and trim(text) ~= "" then
      local ok, decoded = pcall(T.json_decode, trim(text))
      if not ok or type(decoded) ~= "table" then fail("the tool arguments are not a JSON object: " .. text) end
      args = decoded
    end
    local e = agent_entry(a, false)
    e.tool_calls[#e.tool_calls + 1] = { tool = t, args = args }
  end)

step('the tool "<tool>" returns <value>', { '^the tool "([^"]+)" returns%s*(.*)$' }, function(s, t, v)
  local text = doc_or(s, v)
  local ev = parse_value(text)
  if ev == NIL then ev = nil end
  set_mock(t, { returns = ev })
end)

step('the model "<model>" returns <value>', { '^the model "([^"]+)" returns%s*(.*)$' }, function(s, m, v)
  local ev = parse_value((doc_or(s, v)))
  if ev == NIL then ev = nil end
  set_mock(m, { returns = ev })
end)

step("Human.approve will return true", "^Human%.(%a+) will return%s+(.+)$", function(_, kind, v)
  local k = HUMAN_KINDS[kind]
  if not k then fail("Human." .. kind .. " is not a Human request (approve, input, review, escalate)") end
  local ev = parse_value(v)
  if k == "input" then ev = (unquote(v)) end
  if k == "review" and type(ev) == "string" then ev = { decision = ev } end
  W.human[k] = ev
end)

step('when asked "<message>" return <value>', '^when asked "([^"]+)" return%s+(.+)$', function(_, prefix, v)
  W.human_by_message[#W.human_by_message + 1] = { prefix = prefix, value = parse_value(v) }
end)

step("the user presses yes|no", "^the user presses (%a+)$", function(_, v)
  local l = lower(v)
  if l ~= "yes" and l ~= "no" then fail("the user presses yes or no, not " .. v) end
  W.human.approval = l == "yes"
end)

step("the user enters '<text>'", "^the user enters%s+(.+)$", function(_, v)
  W.human.input = (unquote(v))
end)

step("the <dependency> returns '<json>'", "^the ([%w_][%w_%.%-]*) returns%s+'(.*)'$", function(_, name, v)
  local ev = parse_value(v)
  if ev == NIL then ev = nil end
  set_mock(name, { returns = ev })
end)

-- Whens -----------------------------------------------------------------------
step("the procedure runs", { "^the procedure runs?$", "^the procedure runs? with .+$", "^the procedure is run$",
    "^the procedure executes$" }, function() run_procedure() end)
step("the <agent> agent takes turns", { "^the ([%w_]+) agent takes turns?$", '^the agent "([^"]+)" takes turns?$' },
  function() run_procedure() end)

-- Thens: completion -----------------------------------------------------------
step("the procedure should complete successfully",
  { "^the procedure should complete successfully$", "^the procedure should succeed$",
    "^the procedure should complete$" },
  function()
    need_run()
    if not W.ok then fail("the procedure failed: " .. tostring(W.err_text)) end
  end)

step('the procedure should fail [with "<text>"]', { "^the procedure should fail$", "^the procedure should fail with%s+(.+)$" },
  function(_, v)
    need_run()
    if W.ok then fail("the procedure completed successfully, but it should have failed (result: " .. show(W.result) .. ")") end
    if v then
      local want = as_text(parse_value(v))
      if not find(W.err_text or "", want, 1, true) then
        fail("the procedure failed with " .. show(W.err_text) .. ", which does not contain " .. show(want))
      end
    end
  end)

step('the error should contain "<text>"', "^the error should contain%s+(.+)$", function(_, v)
  need_run()
  if W.ok then fail("the procedure did not fail, so there is no error") end
  local want = as_text(parse_value(v))
  if not find(W.err_text or "", want, 1, true) then
    fail("the error " .. show(W.err_text) .. " does not contain " .. show(want))
  end
end)

-- Thens: output ------------------------------------------------------------------
step('the output <key> should be similar to "<text>" [with N% similarity]',
  { "^the output " .. K .. ' should be similar to "(.*)" with (%d+)%% similarity$',
    "^the output " .. K .. ' should be similar to "(.*)"$' },
  function(_, k, text, pct) OUT.similar(k, text, pct) end)
step('the output <key> should fuzzy match "<text>" [with threshold 0.8]',
  "^the output " .. K .. " should fuzzy match%s+(.+)$",
  function(_, k, rest) fuzzy_check("the output " .. k, output_get(k), rest) end)
step('the output should fuzzy match "<text>" [with threshold 0.8] (or: any of ["a", "b"])',
  "^the output should fuzzy match%s+(.+)$",
  function(_, rest) fuzzy_check("the output", need_output(), rest) end)
step('the output <key> should match pattern "<regex>"', "^the output " .. K .. ' should match pattern "(.*)"$',
  function(_, k, p) OUT["should match pattern"](k, p) end)
step('the output <key> should not match pattern "<regex>"', "^the output " .. K .. ' should not match pattern "(.*)"$',
  function(_, k, p) OUT["should match pattern"](k, p, true) end)
step('the output <key> should match lua pattern "<pattern>"', "^the output " .. K .. ' should match lua pattern "(.*)"$',
  function(_, k, p) OUT["should match lua pattern"](k, p) end)
step("the output <key> should be greater than|less than|at least|at most <number>",
  "^the output " .. K .. " should be (%a+ ?%a*) (%-?[%d%.]+)$",
  function(_, k, op, v)
    if op ~= "greater than" and op ~= "less than" and op ~= "at least" and op ~= "at most" then
      return OUT["should be"](k, op .. " " .. v)
    end
    OUT.compare(k, op, v)
  end)
step("the output <key> should not be <value>", "^the output " .. K .. " should not be%s+(.+)$",
  function(_, k, v) OUT["should not be"](k, v) end)
step("the output <key> should exist", "^the output " .. K .. " should exist$", function(_, k) OUT["should exist"](k) end)
step("the output <key> should not exist", "^the output " .. K .. " should not exist$",
  function(_, k) OUT["should not exist"](k) end)
step("the output <key> should not contain <value>", "^the output " .. K .. " should not contain%s+(.+)$",
  function(_, k, v) OUT["should contain"](k, v, true) end)
step("the output <key> should contain <value>", "^the output " .. K .. " should contain%s+(.+)$",
  function(_, k, v) OUT["should contain"](k, v) end)
step("the output <key> should have <n> items", "^the output " .. K .. " should have (%d+) items?$",
  function(_, k, n) OUT["should have items"](k, n) end)
step("the output <key> should be <value>", "^the output " .. K .. " should be%s+(.+)$",
  function(_, k, v) OUT["should be"](k, v) end)
step("the output should contain <key or text>", "^the output should contain%s+(.+)$", function(_, v)
  local out = need_output()
  local ev = parse_value(v)
  if type(out) == "table" then
    if type(ev) == "string" and out[ev] ~= nil then return end
    for _, x in ipairs(out) do if loose_equal(x, ev) then return end end
    fail("the output has no field " .. show(ev) .. ": " .. show(out))
  end
  if not find(as_text(out), as_text(ev), 1, true) then
    fail("expected the output to contain " .. show(ev) .. ", got " .. show(out))
  end
end)
step("the output should be <value>", "^the output should be%s+(.+)$", function(_, v)
  local out = need_output()
  local ev = parse_value(v)
  if not loose_equal(out, ev) then fail("expected the output to be " .. show(ev) .. ", got " .. show(out)) end
end)
step("the output should exist", "^the output should exist$", function()
  if need_output() == nil then fail("the procedure returned nothing") end
end)

-- Thens: state ---------------------------------------------------------------------
step('the state <key> should be similar to "<text>" [with N% similarity]',
  { "^the state " .. K .. ' should be similar to "(.*)" with (%d+)%% similarity$',
    "^the state " .. K .. ' should be similar to "(.*)"$' },
  function(_, k, text, pct) STATE.similar(k, text, pct) end)
step('the state <key> should match pattern "<regex>"', "^the state " .. K .. ' should match pattern "(.*)"$',
  function(_, k, p) STATE["should match pattern"](k, p) end)
step("the state <key> should be greater than|less than|at least|at most <number>",
  "^the state " .. K .. " should be (%a+ ?%a*) (%-?[%d%.]+)$",
  function(_, k, op, v)
    if op ~= "greater than" and op ~= "less than" and op ~= "at least" and op ~= "at most" then
      return STATE["should be"](k, op .. " " .. v)
    end
    STATE.compare(k, op, v)
  end)
step("the state <key> should not be <value>", "^the state " .. K .. " should not be%s+(.+)$",
  function(_, k, v) STATE["should not be"](k, v) end)
step("the state <key> should exist", "^the state " .. K .. " should exist$", function(_, k) STATE["should exist"](k) end)
step("the state <key> should not exist", "^the state " .. K .. " should not exist$",
  function(_, k) STATE["should not exist"](k) end)
step("the state <key> should contain <value>", "^the state " .. K .. " should contain%s+(.+)$",
  function(_, k, v) STATE["should contain"](k, v) end)
step("the state <key> should have <n> items", "^the state " .. K .. " should have (%d+) items?$",
  function(_, k, n) STATE["should have items"](k, n) end)
step("the state <key> should be <value>", "^the state " .. K .. " should be%s+(.+)$",
  function(_, k, v) STATE["should be"](k, v) end)
step("the state should contain <key>", "^the state should contain%s+" .. K .. "$", function(_, k)
  STATE["should exist"](k)
end)

-- Thens: tools -----------------------------------------------------------------------
step("the <tool> tool should not be called", "^the " .. TOOL .. " tool should not be called$", function(_, t)
  need_run()
  local list = tool_call_list(t)
  if #list > 0 then fail("the " .. t .. " tool was called " .. #list .. " time(s): " .. describe_calls(list)) end
end)
-- A count of the calls that had all these arguments.
step('the <tool> tool should be called exactly|at least|at most <n> time(s) with <arg>="<value>" [and ...]',
  "^the " .. TOOL .. " tool should be called (%a+ ?%a*) (%d+) times? with%s+(.+)$",
  function(_, t, how, n, spec)
    if how ~= "exactly" and how ~= "at least" and how ~= "at most" then
      fail("expected exactly, at least or at most before the count, got '" .. how .. "'")
    end
    need_run()
    local want = parse_args_spec(spec)
    local list, declared = tool_call_list(t)
    local hits = 0
    for _, c in ipairs(list) do
      local all = true
      for _, w in ipairs(want) do
        if not loose_equal(get_path(c.args, w.key), w.value) then all = false break end
      end
      if all then hits = hits + 1 end
    end
    local want_n = tonumber(n)
    if (how == "exactly" and hits == want_n) or (how == "at least" and hits >= want_n)
      or (how == "at most" and hits <= want_n) then
      return
    end
    local times = function(x) return x .. (x == 1 and " time" or " times") end
    local calls = #list == 0 and ("it was not called" .. not_called_hint(t, declared))
      or ("all its calls: " .. describe_calls(list))
    fail("the " .. t .. " tool was called " .. times(hits) .. " with " .. spec .. ", expected " .. how .. " "
      .. times(want_n) .. " (" .. calls .. ")")
  end)
step("the <tool> tool should be called exactly <n> time(s)",
  "^the " .. TOOL .. " tool should be called exactly (%d+) times?$",
  function(_, t, n) need_run() count_check(t, tonumber(n), "exactly") end)
step("the <tool> tool should be called at least <n> time(s)",
  "^the " .. TOOL .. " tool should be called at least (%d+) times?$",
  function(_, t, n) need_run() count_check(t, tonumber(n), "at least") end)
step("the <tool> tool should be called at most <n> time(s)",
  "^the " .. TOOL .. " tool should be called at most (%d+) times?$",
  function(_, t, n) need_run() count_check(t, tonumber(n), "at most") end)
step('the <tool> tool should be called with <arg> matching pattern "<regex>"',
  "^the " .. TOOL .. ' tool should be called with ([%w_%.]+) matching pattern "(.*)"$',
  function(_, t, key, p)
    need_run()
    local list, declared = tool_call_list(t)
    if #list == 0 then fail("the " .. t .. " tool was not called" .. not_called_hint(t, declared)) end
    for _, c in ipairs(list) do
      local v = get_path(c.args, key)
      if v ~= nil and regex_search(p, as_text(v)) then return end
    end
    fail("the " .. t .. " tool was called " .. #list .. " time(s), never with " .. key .. " matching \"" .. p
      .. "\" (arguments: " .. describe_calls(list) .. ")")
  end)
step('the <tool> tool should be called with <arg>="<value>" [and <arg>=<value>...]',
  "^the " .. TOOL .. " tool should be called with%s+(.+)$",
  function(_, t, spec)
    need_run()
    local want = parse_args_spec(spec)
    local list, declared = tool_call_list(t)
    if #list == 0 then fail("the " .. t .. " tool was not called" .. not_called_hint(t, declared)) end
    for _, c in ipairs(list) do
      local all = true
      for _, w in ipairs(want) do
        if not loose_equal(get_path(c.args, w.key), w.value) then all = false break end
      end
      if all then return end
    end
    fail("the " .. t .. " tool was called " .. #list .. " time(s), never with " .. spec .. " (arguments: "
      .. describe_calls(list) .. ")")
  end)
step("the <tool> tool should be called", { "^the " .. TOOL .. " tool should be called$",
    "^the " .. TOOL .. " tool should have been called$" },
  function(_, t)
    need_run()
    local list, declared = tool_call_list(t)
    if #list == 0 then fail("the " .. t .. " tool was not called" .. not_called_hint(t, declared)) end
  end)
step("the <dependency> should have been called [<n> times]",
  { "^the ([%w_][%w_%.%-]*) should have been called$", "^the ([%w_][%w_%.%-]*) should have been called (%d+) times?$" },
  function(_, t, n)
    need_run()
    if n then count_check(t, tonumber(n), "exactly") return end
    local list, declared = tool_call_list(t)
    if #list == 0 then fail("the " .. t .. " was not called" .. not_called_hint(t, declared)) end
  end)
step("the <dependency> should not have been called", "^the ([%w_][%w_%.%-]*) should not have been called$",
  function(_, t)
    need_run()
    local list = tool_call_list(t)
    if #list > 0 then fail("the " .. t .. " was called " .. #list .. " time(s)") end
  end)

-- Thens: iterations, agents, stop, stage, humans, logs ---------------------------------
step("the total iterations should be less than <n>", "^the total iterations should be less than (%d+)$", function(_, n)
  need_run()
  if not (ctx.iterations < tonumber(n)) then
    fail("the total iterations are " .. ctx.iterations .. ", expected less than " .. n)
  end
end)
step("the total iterations should be between <a> and <b>", "^the total iterations should be between (%d+) and (%d+)$",
  function(_, a, b)
    need_run()
    if ctx.iterations < tonumber(a) or ctx.iterations > tonumber(b) then
      fail("the total iterations are " .. ctx.iterations .. ", expected between " .. a .. " and " .. b)
    end
  end)
step("the total iterations should be <n>", "^the total iterations should be (%d+)$", function(_, n)
  need_run()
  if ctx.iterations ~= tonumber(n) then fail("the total iterations are " .. ctx.iterations .. ", expected " .. n) end
end)
step("the <agent> agent should take at least <n> turn(s)",
  { "^the ([%w_]+) agent should take at least (%d+) turns?$", "^the agent should take at least (%d+) turns?$" },
  function(_, a, n)
    need_run()
    local turns
    if n == nil then
      n, turns = a, 0
      for _, c in pairs(W.agent_turns) do turns = turns + c end
    else
      turns = W.agent_turns[a] or 0
    end
    if turns < tonumber(n) then
      fail((n and a ~= n and ("the " .. a .. " agent") or "the agents") .. " took " .. turns
        .. " turn(s), expected at least " .. n)
    end
  end)
step("the <agent> agent should take <n> turn(s)", "^the ([%w_]+) agent should take (%d+) turns?$", function(_, a, n)
  need_run()
  local turns = W.agent_turns[a] or 0
  if turns ~= tonumber(n) then fail("the " .. a .. " agent took " .. turns .. " turn(s), expected " .. n) end
end)
step("the stop reason should be <text>", "^the stop reason should be%s+(.+)$", function(_, v)
  need_run()
  local r = G.Stop.reason()
  local want = as_text(parse_value(v))
  if r ~= want then fail("the stop reason is " .. show(r) .. ", expected " .. show(want)) end
end)
step("the stop reason should contain <text>", "^the stop reason should contain%s+(.+)$", function(_, v)
  need_run()
  local r = G.Stop.reason()
  local want = as_text(parse_value(v))
  if not find(as_text(r), want, 1, true) then fail("the stop reason " .. show(r) .. " does not contain " .. show(want)) end
end)
step('the stop reason should match pattern "<regex>"', '^the stop reason should match pattern "(.*)"$', function(_, p)
  need_run()
  local r = as_text(G.Stop.reason())
  if not regex_search(p, r) then fail("the stop reason " .. show(r) .. " does not match pattern \"" .. p .. "\"") end
end)
step("the stage should be <stage>", "^the stage should be%s+(.+)$", function(_, v)
  need_run()
  local cur = G.Stage.current()
  local want = as_text(parse_value(v))
  if cur ~= want then fail("the stage is " .. show(cur) .. ", expected " .. show(want)) end
end)
step("Human.<approve|input|review|escalate> should be called",
  { "^Human%.(%a+) should be called$", "^Human%.(%a+) should have been called$" }, function(_, kind)
    need_run()
    local k = HUMAN_KINDS[kind] or kind
    for _, c in ipairs(W.human_calls) do if c.kind == k then return end end
    fail("Human." .. kind .. " was not called")
  end)
step("Human.<approve|input|review|escalate> should not be called",
  { "^Human%.(%a+) should not be called$", "^Human%.(%a+) should not have been called$" }, function(_, kind)
    need_run()
    local k = HUMAN_KINDS[kind] or kind
    for _, c in ipairs(W.human_calls) do
      if c.kind == k then fail("Human." .. kind .. " was called: " .. show(c.message)) end
    end
  end)
step("the log should contain <text>", "^the logs? should contain%s+(.+)$", function(_, v)
  need_run()
  local want = as_text(parse_value(v))
  for _, m in ipairs(W.logs) do if find(m, want, 1, true) then return end end
  fail("no log message contains " .. show(want))
end)
step("the <name> parameter is <value>", "^the ([%w_]+) parameter is%s+(.+)$", function(_, k, v)
  local actual = ctx.params[k]
  if not loose_equal(actual, parse_value(v)) then
    fail("the parameter " .. k .. " is " .. show(actual) .. ", expected " .. show(parse_value(v)))
  end
end)

---------------------------------------------------------------------------
-- Matching a step
---------------------------------------------------------------------------

local function normalize_step(text)
  text = trim(gsub(text, "%s+", " "))
  text = gsub(text, '^the tool "([^"]+)" should', "the %1 tool should")
  return text
end

-- Custom steps: Step("phrase", fn).  A phrase matches the step text
-- exactly; a phrase with Lua pattern captures, e.g. Step("the total is
-- (%d+)", fn), is also tried as an anchored Lua pattern and fn gets the
-- captures first.  fn gets the world last.
local function find_custom(text)
  for i = #ctx.steps, 1, -1 do
    local c = ctx.steps[i]
    if c.phrase == text then return c, {} end
  end
  for i = #ctx.steps, 1, -1 do
    local c = ctx.steps[i]
    if find(c.phrase, "(", 1, true) then
      local ok, r = pcall(function() return { match(text, "^" .. c.phrase .. "$") } end)
      if ok and r[1] ~= nil then return c, r end
    end
  end
  return nil
end

local function find_step(raw)
  local text = normalize_step(raw)
  for _, e in ipairs(BUILTIN) do
    for _, p in ipairs(e.patterns) do
      local caps = { match(text, p) }
      if caps[1] ~= nil then
        if not find(p, "(", 1, true) then caps = {} end
        return "builtin", e, caps
      end
    end
  end
  ensure_loaded()
  local c, caps = find_custom(text)
  if c then return "custom", c, caps end
  return nil
end

-- Edit distance over words: a <placeholder> word of a template matches any
-- word; other substitutions cost their normalized character distance.
local function words(s)
  local out = {}
  for w in gmatch(lower(s), "%S+") do
    out[#out + 1] = w
    if #out >= 40 then break end
  end
  return out
end

local function word_distance(a, b)
  local prev, cur = {}, {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    cur[0] = i
    for j = 1, #b do
      local x, y = a[i], b[j]
      local cost = 0
      if x ~= y and not find(y, "^<.*>$") and not find(y, "^%[.*%]$") then
        cost = levenshtein(x, y) / (#x > #y and #x or #y)
      end
      local v = prev[j] + 1
      if cur[j - 1] + 1 < v then v = cur[j - 1] + 1 end
      if prev[j - 1] + cost < v then v = prev[j - 1] + cost end
      cur[j] = v
    end
    prev, cur = cur, prev
  end
  return prev[#b]
end

local function closest_steps(text)
  local cands = {}
  for _, e in ipairs(BUILTIN) do cands[#cands + 1] = e.template end
  for _, c in ipairs(ctx.steps) do cands[#cands + 1] = c.phrase end
  local scored = {}
  local tw = words(text)
  for _, c in ipairs(cands) do
    scored[#scored + 1] = { c = c, d = word_distance(tw, words(c)) }
  end
  sort(scored, function(a, b) if a.d ~= b.d then return a.d < b.d end return a.c < b.c end)
  local out = {}
  for i = 1, 3 do if scored[i] then out[i] = scored[i].c end end
  return out
end

local function public_world()
  return {
    input = ctx.params, output = W.result, ok = W.ok, ran = W.ran, error = W.err_text,
    state = ctx.state, mock = W.mock, scenario = W.scenario,
    run = function() run_procedure() end,
  }
end

local function run_step(s)
  local kind, entry, caps = find_step(s.text)
  if not kind then
    local hints = closest_steps(normalize_step(s.text))
    return "undefined", "undefined step: \"" .. s.text .. "\"; the closest known steps are: \""
      .. concat(hints, "\", \"") .. "\""
  end
  local ok, r = xpcall(function()
    if kind == "builtin" then return entry.fn(s, unpack(caps)) end
    local args = {}
    for i, c in ipairs(caps) do args[i] = c end
    args[#args + 1] = public_world()
    return entry.fn(unpack(args, 1, #caps + 1))
  end, function(e)
    if type(e) == "table" and getmetatable(e) == FAIL then return e end
    return { message = error_message(e), trace = type(e) == "string" and T.traceback(e, 2) or nil }
  end)
  if ok then
    if kind == "custom" and r == false then return "failed", "the step returned false" end
    return "passed"
  end
  return "failed", error_message(r) or r.message
end

---------------------------------------------------------------------------
-- Modes
---------------------------------------------------------------------------

local function spec_texts()
  local texts, dynamic = static_specs(T.source)
  if #texts > 0 and not dynamic then return texts end
  ensure_loaded()
  if W.load_failed and #ctx.specs == 0 then
    error({ type = "LoadError", message = "the file failed while it was loaded, before it declared its "
      .. "specifications: " .. tostring(W.err_text) }, 0)
  end
  return ctx.specs
end

local function mode_list()
  local scenarios, features = collect_scenarios(spec_texts())
  local out, names = {}, {}
  for i, sc in ipairs(scenarios) do
    out[i] = { name = sc.name, feature = sc.feature, outline = sc.outline, steps = #sc.steps, line = sc.line }
  end
  for i, f in ipairs(features) do names[i] = f.name end
  return { scenarios = out, features = names }
end

local function mode_scenario()
  local name = start.scenario
  if type(name) ~= "string" then error({ type = "BadRequest", message = "scenario mode needs a scenario name" }, 0) end
  local scenarios = collect_scenarios(spec_texts())
  local sc
  for _, s in ipairs(scenarios) do if s.name == name then sc = s break end end
  if not sc then error({ type = "ScenarioNotFound", message = "no scenario named \"" .. name .. "\"" }, 0) end
  W.scenario = sc.name
  local t0 = T.monotonic()
  local results, failed, first = {}, false, nil
  for i, s in ipairs(sc.steps) do
    local r = { keyword = s.keyword, step = s.text, line = s.line, background = s.background or nil }
    if failed then
      r.status = "skipped"
    else
      local t1 = T.monotonic()
      r.status, r.message = run_step(s)
      r.duration_ms = (T.monotonic() - t1) * 1000
      if r.status ~= "passed" then
        failed = true
        first = i
      end
    end
    results[i] = r
  end
  return {
    scenario = sc.name, feature = sc.feature, status = failed and "failed" or "passed", steps = results,
    first_failure = first, ran = W.ran, procedure_ok = W.ran and W.ok or nil,
    procedure_error = W.err_text, duration_ms = (T.monotonic() - t0) * 1000,
  }
end

---------------------------------------------------------------------------
-- Evaluations
---------------------------------------------------------------------------

local TYPE_NAMES = {
  str = "string", string = "string", int = "number", integer = "number", float = "number",
  number = "number", bool = "boolean", boolean = "boolean", dict = "table", object = "table",
  table = "table", list = "table", array = "table",
}

local function ev_target(e, run)
  local out = run.output
  if e.field and type(out) == "table" then return get_path(out, e.field) end
  return out
end

local function length_of(v)
  if type(v) == "table" then
    local n = 0
    for _ in pairs(v) do n = n + 1 end
    return n
  end
  return #as_text(v)
end

-- llm_judge: the judge model (the evaluator's model, else the file's
-- default_model, else openai/gpt-4o-mini) is asked through the broker, as an
-- agent's model is, for {"passed", "score", "reason"}.  With --mock no model
-- is called, so it is skipped (shown, and never counted as a pass).
local JUDGE_SYSTEM = "You are a strict evaluator. Judge the OUTPUT of a procedure against the RUBRIC "
  .. "(the INPUT and the EXPECTED OUTPUT are context). Answer with only a JSON object: "
  .. '{"passed": true or false, "score": a number from 0 to 1, "reason": "one sentence"}.'

local function judge_verdict(text)
  local body = match(text, "```%w*%s*(.-)%s*```") or match(text, "(%b{})") or text
  local ok, v = pcall(T.json_decode, body)
  if not ok or type(v) ~= "table" then return nil end
  local passed = v.passed
  if passed == nil then passed = v.pass end
  if type(passed) == "string" then passed = lower(passed) == "true" or lower(passed) == "pass" end
  local score = tonumber(v.score)
  if type(passed) ~= "boolean" and score == nil then return nil end
  return passed, score, type(v.reason) == "string" and v.reason or nil
end

local function judge(e, run, case)
  if W.mock then return nil, "--mock calls no model, and llm_judge needs one" end
  local rubric = e.rubric or e.criteria or e.prompt or e.value
  if type(rubric) ~= "string" then return false, "llm_judge: no rubric (give rubric = \"...\")" end
  local model = e.model or (ctx.settings and ctx.settings.default_model) or "openai/gpt-4o-mini"
  local function j(v)
    local ok, t = pcall(T.json_encode, sanitize(v), true)
    return ok and t or tostring(v)
  end
  local user = "RUBRIC:\n" .. rubric .. "\n\nINPUT:\n" .. j(case.inputs or case.input or {})
    .. "\n\nEXPECTED OUTPUT:\n" .. j(case.expected_output) .. "\n\nOUTPUT:\n" .. j(run.output)
  local ok, reply = pcall(T.call, "llm.chat", { provider = "openai", model = model, stream = false,
    temperature = e.temperature or 0, agent_name = "llm_judge",
    messages = { { role = "system", content = JUDGE_SYSTEM }, { role = "user", content = user } } })
  if not ok then return false, "llm_judge: the judge model call failed: " .. T.error_text(reply) end
  local text = type(reply.text) == "string" and reply.text or ""
  local passed, score, reason = judge_verdict(text)
  if passed == nil and score == nil then
    return false, "llm_judge: the judge's answer is not {\"passed\", \"score\"}: " .. show(clip(text, 200))
  end
  local threshold = tonumber(e.threshold) or 0.5
  if type(passed) ~= "boolean" then passed = score >= threshold
  elseif score ~= nil and score < threshold then passed = false end
  local why = (score and format("score %.2f", score) or (passed and "passed" or "failed"))
    .. (score and passed == false and score >= threshold and " (the judge said it fails)" or "")
    .. (score and score < threshold and format(", below %.2f", threshold) or "")
    .. (reason and (": " .. clip(reason, 300)) or "")
  return passed, why
end

-- Each returns passed (true/false, or nil when skipped), reason.
local EVALUATORS = {
  equals_expected = function(e, run, case)
    local expected = e.value
    if expected == nil then expected = e.expected end
    local exp_out = case.expected_output
    if expected == nil then
      if exp_out == nil then return true, "no expected output" end
      if e.field then expected = type(exp_out) == "table" and get_path(exp_out, e.field) or nil
      else expected = exp_out end
    end
    local actual = ev_target(e, run)
    if deep_equal(actual, expected) or (type(expected) ~= "table" and loose_equal(actual, expected)) then
      return true
    end
    return false, "expected " .. show(expected) .. ", got " .. show(actual)
  end,
  contains = function(e, run, case)
    local want = e.value
    if want == nil then want = e.expected end
    if want == nil and e.check_expected and type(case.expected_output) == "table" then
      want = case.expected_output[e.check_expected]
    end
    if want == nil and e.field and type(case.expected_output) == "table" then
      want = case.expected_output[e.field]
    end
    if want == nil then return false, "contains: no value to look for (give value = ...)" end
    local text = as_text(ev_target(e, run))
    local w = as_text(want)
    if e.case_sensitive == false then text, w = lower(text), lower(w) end
    if find(text, w, 1, true) then return true end
    return false, show(clip(text, 120)) .. " does not contain " .. show(w)
  end,
  contains_any = function(e, run, case)
    local values = type(e.value) == "table" and e.value or e.values
    if values == nil and e.check_expected and type(case.expected_output) == "table" then
      values = case.expected_output[e.check_expected]
      if type(values) ~= "table" then values = { values } end
    end
    if values == nil and type(case.expected_output) == "table" then
      values = {}
      for _, v in pairs(case.expected_output) do values[#values + 1] = v end
    end
    if values == nil or #values == 0 then return false, "contains_any: no values to look for" end
    local text = lower(as_text(ev_target(e, run)))
    for _, v in ipairs(values) do if find(text, lower(as_text(v)), 1, true) then return true end end
    return false, show(clip(text, 120)) .. " contains none of " .. show(values)
  end,
  min_length = function(e, run, case)
    local min = tonumber(e.value or e.min or e.length) or 0
    if e.check_expected and type(case.expected_output) == "table" then
      min = tonumber(case.expected_output[e.check_expected]) or min
    end
    local n = length_of(ev_target(e, run))
    if n >= min then return true end
    return false, "length " .. n .. " is less than " .. min
  end,
  max_length = function(e, run)
    local max = tonumber(e.value or e.max or e.length) or 0
    local n = length_of(ev_target(e, run))
    if n <= max then return true end
    return false, "length " .. n .. " is more than " .. max
  end,
  length = function(e, run)
    local want = tonumber(e.value or e.length)
    local n = length_of(ev_target(e, run))
    if n == want then return true end
    return false, "length " .. n .. ", expected " .. tostring(want)
  end,
  regex = function(e, run)
    local p = e.pattern or e.value or e.regex
    if type(p) ~= "string" then return false, "regex: no pattern (give pattern = \"...\")" end
    local text = as_text(ev_target(e, run))
    if e.lua then
      local ok, hit = pcall(find, text, p)
      if not ok then return false, "bad Lua pattern: " .. T.error_text(hit) end
      if hit then return true end
    elseif regex_search(p, text) then
      return true
    end
    return false, show(clip(text, 120)) .. " does not match \"" .. p .. "\""
  end,
  one_of = function(e, run)
    local values = e.values or e.value or e.options
    if type(values) ~= "table" then return false, "one_of: no values (give values = {...})" end
    local actual = ev_target(e, run)
    for _, v in ipairs(values) do if loose_equal(actual, v) then return true end end
    return false, show(actual) .. " is not one of " .. show(values)
  end,
  is_instance = function(e, run)
    local want = TYPE_NAMES[lower(tostring(e.value or e.type_name or ""))]
    if not want then return false, "is_instance: unknown type " .. show(e.value) end
    local actual = ev_target(e, run)
    if type(actual) == want then return true end
    return false, "a " .. type(actual) .. ", expected a " .. want
  end,
  range = function(e, run)
    local v = tonumber(ev_target(e, run))
    if v == nil then return false, show(ev_target(e, run)) .. " is not a number" end
    local lo, hi = tonumber(e.min or e.min_value), tonumber(e.max or e.max_value)
    if (lo and v < lo) or (hi and v > hi) then
      return false, v .. " is outside [" .. tostring(lo or "-inf") .. ", " .. tostring(hi or "inf") .. "]"
    end
    return true
  end,
  max_iterations = function(e, run)
    local max = tonumber(e.value) or 10
    if (run.iterations or 0) <= max then return true end
    return false, run.iterations .. " iterations, more than " .. max
  end,
  tool_called = function(e, run)
    local name = e.value or e.tool or e.tool_name
    local n = run.tool_counts[name] or 0
    local lo, hi = tonumber(e.min_value or e.min) or 1, tonumber(e.max_value or e.max)
    if n < lo or (hi and n > hi) then return false, tostring(name) .. " was called " .. n .. " time(s)" end
    return true
  end,
  state_check = function(e, run)
    local v = run.state and get_path(run.state, e.field or "") or nil
    if loose_equal(v, e.value) then return true end
    return false, "state " .. tostring(e.field) .. " is " .. show(v) .. ", expected " .. show(e.value)
  end,
  -- The run's usage: every agent call of the run summed (mock turns use 0
  -- tokens and cost 0).
  max_tokens = function(e, run)
    local max = tonumber(e.value or e.max or e.max_tokens or e.limit)
    if max == nil then return false, "no limit (give value = N)" end
    local n = run.usage.total_tokens
    if n <= max then return true, n .. " tokens" end
    return false, "the run used " .. n .. " tokens, more than " .. max
  end,
  max_cost = function(e, run)
    local max = tonumber(e.value or e.max or e.max_cost or e.limit)
    if max == nil then return false, "no limit (give value = N)" end
    local c = run.usage.cost
    if c == nil then
      return false, "cost not reported by the model (its replies carry no usage.cost), so max_cost cannot be checked"
    end
    if c <= max then return true, "cost " .. c end
    return false, "the run cost " .. c .. ", more than " .. max
  end,
  llm_judge = function(e, run, case)
    return judge(e, run, case)
  end,
}
EVALUATORS.exact_match = EVALUATORS.equals_expected
EVALUATORS.matches = EVALUATORS.regex
EVALUATORS.contains_all = function(e, run, case)
  local values = type(e.value) == "table" and e.value or e.values or {}
  local text = as_text(ev_target(e, run))
  for _, v in ipairs(values) do
    if not find(text, as_text(v), 1, true) then return false, "does not contain " .. show(v) end
  end
  return true
end

local function evaluator_name(e, i)
  if type(e) == "function" then return "custom " .. i end
  local kind = e.evaluator or e.type or "?"
  return e.name or (kind .. (e.field and ("(" .. e.field .. ")") or ""))
end

local function apply_evaluator(e, run, case)
  if type(e) == "function" then
    local ok, r, why = pcall(e, run.output, case.expected_output, case)
    if not ok then return false, T.error_text(r) end
    if type(r) == "number" then return r >= 0.5, why end
    if type(r) == "table" then return r.passed ~= false and r.pass ~= false, r.reason end
    return r ~= false and r ~= nil, why
  end
  if type(e) ~= "table" then return false, "not an evaluator: " .. show(e) end
  if type(e.evaluate) == "function" or type(e.fn) == "function" then
    return apply_evaluator(e.evaluate or e.fn, run, case)
  end
  local kind = e.evaluator or e.type
  local f = EVALUATORS[kind]
  if not f then return false, "unknown evaluator '" .. tostring(kind) .. "'" end
  if not run.ok then return false, "the procedure failed: " .. tostring(run.error) end
  local ok, passed, why = pcall(f, e, run, case)
  if not ok then return false, error_message(passed) end
  return passed, why
end

local function load_dataset_file(path)
  local ok, text = pcall(ctx.files.read, path)
  if not ok then
    error({ type = "DatasetError", message = "dataset_file " .. path .. ": " .. T.error_text(text)
      .. " (paths are relative to the workspace, the current directory)" }, 0)
  end
  local cases = {}
  local okj, whole = pcall(T.json_decode, text)
  if okj and type(whole) == "table" then
    -- A JSON array of cases; a single object is a JSON Lines file of one case.
    if whole[1] == nil and next(whole) ~= nil then return { whole } end
    for _, c in ipairs(whole) do cases[#cases + 1] = c end
    return cases
  end
  local n = 0
  for line in gmatch(text, "[^\r\n]+") do
    n = n + 1
    if trim(line) ~= "" then
      local okl, c = pcall(T.json_decode, line)
      if not okl or type(c) ~= "table" then
        error({ type = "DatasetError", message = "dataset_file " .. path .. ", line " .. n .. ": not a JSON object" }, 0)
      end
      cases[#cases + 1] = c
    end
  end
  return cases
end

-- One case run in a fresh runtime (its own globals, state, tools, agents).
local function eval_run(case)
  local rt = ctx.sub_runtime()
  local env = rt.env
  local world = { mock = W.mock, human = {}, human_by_message = {}, human_calls = {} }
  install_human(env.Human, world)
  local c, lerr = T.load(T.source, "@" .. T.chunkname, env)
  if not c then
    return { ok = false, error = tostring(lerr), duration_ms = 0, usage = rt.usage(), tool_counts = {} }
  end
  local params = {}
  for k, v in pairs(ctx.params) do params[k] = v end
  for k, v in pairs(case.inputs or case.input or {}) do params[k] = v end
  local t0 = T.monotonic()
  local ok, result = xpcall(function() return rt.run(c, params) end, traceback)
  local run = { ok = ok, duration_ms = (T.monotonic() - t0) * 1000, usage = rt.usage() }
  if ok then run.output = result else run.error = match(T.error_text(result), "^([^\n]*)") end
  pcall(function()
    run.iterations = env.Iterations.current()
    run.state = env.State.all()
  end)
  run.tool_counts = {}
  return run, env
end

local function mode_eval()
  ensure_loaded()
  if W.load_failed and not W.script then
    error({ type = "LoadError", message = "the file failed while it was loaded: " .. tostring(W.err_text) }, 0)
  end
  local out = {}
  for ei, E in ipairs(ctx.evaluations) do
    if type(E) ~= "table" then error({ type = "EvaluationError", message = "Evaluation " .. ei .. " is not a table" }, 0) end
    local runs = tonumber(start.runs) or tonumber(E.runs) or 1
    local cases = {}
    for _, c in ipairs(E.dataset or {}) do cases[#cases + 1] = c end
    if type(E.dataset_file) == "string" then
      for _, c in ipairs(load_dataset_file(E.dataset_file)) do cases[#cases + 1] = c end
    end
    local evaluators = E.evaluators or {}
    local ev_stats = {}
    for i, e in ipairs(evaluators) do ev_stats[i] = { name = evaluator_name(e, i), passed = 0, failed = 0, skipped = 0 } end
    local total, passed, max_ms, sum_ms = 0, 0, 0, 0
    local max_tokens, max_cost, cost_unknown = 0, 0, false
    local case_out = {}
    for ci, case in ipairs(cases) do
      if type(case) ~= "table" then case = { inputs = {} } end
      local co = { name = case.name or ("case " .. ci), inputs = sanitize(case.inputs or case.input),
                   expected = sanitize(case.expected_output), runs = {}, passed = 0 }
      for r = 1, runs do
        local run, env = eval_run(case)
        if env then
          for _, e in ipairs(evaluators) do
            local name = type(e) == "table" and (e.value or e.tool or e.tool_name)
            if type(e) == "table" and (e.evaluator or e.type) == "tool_called" and type(name) == "string" then
              local okh, h = pcall(function() return env.Tool.get(name) end)
              run.tool_counts[name] = okh and h and h.call_count() or 0
            end
          end
        end
        local ro = { ok = run.ok, error = run.error, duration_ms = run.duration_ms,
                     output = sanitize(run.output), evaluators = {} }
        local all = run.ok
        for i, e in ipairs(evaluators) do
          local p, why = apply_evaluator(e, run, case)
          local st = ev_stats[i]
          if p == nil then st.skipped = st.skipped + 1; st.skip_reason = st.skip_reason or why
          elseif p then st.passed = st.passed + 1
          else st.failed = st.failed + 1; all = false end
          ro.evaluators[i] = { name = st.name, passed = p, reason = why }
        end
        ro.passed = all and true or false
        total = total + 1
        if all then passed = passed + 1; co.passed = co.passed + 1 end
        sum_ms = sum_ms + run.duration_ms
        ro.usage = { prompt_tokens = run.usage.prompt_tokens, completion_tokens = run.usage.completion_tokens,
                     total_tokens = run.usage.total_tokens, cost = run.usage.cost, model_calls = run.usage.calls }
        if run.usage.total_tokens > max_tokens then max_tokens = run.usage.total_tokens end
        if run.usage.cost == nil then cost_unknown = true
        elseif run.usage.cost > max_cost then max_cost = run.usage.cost end
        if run.duration_ms > max_ms then max_ms = run.duration_ms end
        co.runs[r] = ro
      end
      co.total = runs
      case_out[ci] = co
    end
    local rate = total > 0 and passed / total or 0
    local th = type(E.thresholds) == "table" and E.thresholds or {}
    local checks = {}
    local min_rate = tonumber(th.min_success_rate) or 1.0
    checks[#checks + 1] = { name = "min_success_rate", limit = min_rate, actual = rate, passed = total > 0 and rate >= min_rate }
    if th.max_duration then
      local lim = tonumber(th.max_duration)
      checks[#checks + 1] = { name = "max_duration", limit = lim, actual = max_ms / 1000, passed = max_ms / 1000 <= lim }
    end
    -- The most any one run used: its agent calls' usage summed.
    if th.max_tokens_per_run then
      local lim = tonumber(th.max_tokens_per_run)
      checks[#checks + 1] = { name = "max_tokens_per_run", limit = lim, actual = max_tokens,
                              passed = lim ~= nil and max_tokens <= lim }
    end
    if th.max_cost_per_run then
      local lim = tonumber(th.max_cost_per_run)
      if cost_unknown then
        checks[#checks + 1] = { name = "max_cost_per_run", limit = lim, passed = false,
                                note = "unknown: cost not reported by the model" }
      else
        checks[#checks + 1] = { name = "max_cost_per_run", limit = lim, actual = max_cost,
                                passed = lim ~= nil and max_cost <= lim }
      end
    end
    local ok_all = true
    for _, c in ipairs(checks) do if not c.passed then ok_all = false end end
    out[ei] = {
      name = E.name or ("Evaluation " .. ei), runs_per_case = runs, cases = case_out, total_runs = total,
      passed_runs = passed, success_rate = rate, evaluators = ev_stats, thresholds = checks, passed = ok_all,
      mean_duration_ms = total > 0 and sum_ms / total or 0, max_duration_ms = max_ms,
    }
  end
  return { evaluations = out }
end

---------------------------------------------------------------------------

install_hooks()
local result
if start.mode == "list" then
  result = mode_list()
elseif start.mode == "scenario" then
  result = mode_scenario()
elseif start.mode == "eval" then
  result = mode_eval()
else
  error({ type = "BadRequest", message = "unknown mode '" .. tostring(start.mode) .. "'" }, 0)
end
-- The run's own state is not part of a test report (and may hold values
-- JSON cannot carry).
ctx.state = {}
return result
