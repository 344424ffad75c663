-- Patterns: a backtracking subset of Python's re, used by "should match
-- pattern" and field.regex / field.matches.
--   literals, . (not newline), [abc] [^a-z] classes, \d \w \s \D \W \S,
--   \b \B, ^ $ (whole text; $ also before a final newline), \A \Z,
--   groups (...) (?:...) (?P<name>...) (no backreferences), |,
--   * + ? {n} {n,} {n,m} and their lazy forms (*? +? ?? {n,m}?),
--   a leading (?i) for case-insensitive matching.
-- A search: the pattern may match anywhere unless anchored.  A bad
-- pattern, or one too costly for its text, fails the step (value.fail).
--
--   regex.compile(pattern) -> function(text) -> true/false
--   regex.search(pattern, text)
local T, lib = ...
local type, ipairs, tostring, tonumber, error, pcall =
  type, ipairs, tostring, tonumber, error, pcall
local sub, find, match, byte = string.sub, string.find, string.match, string.byte
local huge = math.huge
local value = lib("value")
local fail, clip = value.fail, value.clip

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
    fail("bad pattern \"" .. clip(pat, 80) .. "\": " .. msg .. " (at character " .. pos .. ")")
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
      fail("pattern \"" .. clip(pat, 80) .. "\" is too complex for this text")
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
        if value.is_failure(r) then error(r, 0) end
        fail("pattern \"" .. clip(pat, 80) .. "\" could not be matched against a text of "
          .. #s .. " bytes: " .. T.error_text(r))
      end
      if r then return true end
    end
    return false
  end
end

local function regex_search(pat, s) return regex_compile(pat)(s) end


return { compile = regex_compile, search = regex_search }
