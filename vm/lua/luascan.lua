-- Finding the Specification texts without running the file: the literal
-- argument of every Specification(...) / Specifications(...) call, found
-- by scanning the Lua source (comments, strings and long brackets are
-- skipped).  A script-mode file's body is its procedure, so it must not
-- run before the scenario's Given steps set its inputs.  Any call whose
-- argument is not a single string literal makes the result "dynamic" (the
-- file is run and the texts it declared are used instead).
--
--   luascan.specifications(source) -> texts, dynamic, lines (each text's
--                                      first line in the source)
local T = ...
local tonumber = tonumber
local sub, find, match, rep, char, gsub, gmatch = string.sub, string.find, string.match, string.rep,
  string.char, string.gsub, string.gmatch
local concat = table.concat

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
        buf[#buf + 1] = char(tonumber(d) % 256)
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

-- The line of SRC at byte I.
local function line_at(src, i)
  local n = 1
  for _ in gmatch(sub(src, 1, i - 1), "\n") do n = n + 1 end
  return n
end

-- Every Specification's text, whether any is dynamic, and the file line
-- each text's first line is on (so a step's line is the file's).
local function static_specs(src)
  local texts, dynamic, lines = {}, false, {}
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
        local text, after, first
        if d == '"' or d == "'" then
          -- Its "\n" escapes are no lines of the file: no line to map.
          text, after = read_quoted(src, k)
        elseif d == "[" and long_bracket_at(src, k) then
          local level, cs = long_bracket_at(src, k)
          text, after = read_long(src, cs, level)
          first = line_at(src, cs)
          -- Lua drops a newline right after the opening bracket.
          if text and find(text, "^\r?\n") then first = first + 1 end
          if text then text = gsub(text, "^\r?\n", "") end
        end
        if text then
          local m = match(src, "^%s*()", after)
          if paren and sub(src, m, m) ~= ")" then dynamic = true
          else
            texts[#texts + 1] = text
            lines[#texts] = first
          end
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
  return texts, dynamic, lines
end


return { specifications = static_specs }
