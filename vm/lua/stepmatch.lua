-- Matching a step's text to a built-in step (steps.lua, checks.lua) or a
-- custom one (Step("phrase", fn) in the file), running it, and naming the
-- closest known steps when none matches.  Called with the spec session S.
local S = ...
local ctx, T, lib, W = S.ctx, S.T, S.lib, S.W
local type, ipairs, pcall, xpcall, unpack = type, ipairs, pcall, xpcall, unpack
local find, match, gmatch, gsub, lower, upper, sub = string.find, string.match, string.gmatch,
  string.gsub, string.lower, string.upper, string.sub
local concat, sort = table.concat, table.sort
local value, similarity = lib("value"), lib("similarity")
local trim = value.trim

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


local function find_builtin(text)
  for _, e in ipairs(S.BUILTIN) do
    for _, p in ipairs(e.patterns) do
      local caps = { match(text, p) }
      if caps[1] ~= nil then
        if not find(p, "(", 1, true) then caps = {} end
        return e, caps
      end
    end
  end
end

local function find_step(raw)
  local text = normalize_step(raw)
  local e, caps = find_builtin(text)
  -- Tactus matches its steps ignoring case; ours are written in lower
  -- case, so a step starting with a capital ("The output ...") is tried so.
  if e == nil and find(text, "^%u") then e, caps = find_builtin(lower(sub(text, 1, 1)) .. sub(text, 2)) end
  if e then return "builtin", e, caps end
  S.ensure_loaded()
  local c
  c, caps = find_custom(text)
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
        cost = similarity.levenshtein(x, y) / (#x > #y and #x or #y)
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

-- The three known steps (templates and custom phrases) nearest to TEXT.
function S.closest_steps(text)
  local cands = {}
  for _, e in ipairs(S.BUILTIN) do cands[#cands + 1] = e.template end
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
    run = function() S.run_procedure() end,
  }
end

-- Whether a step's text names a known step (validate's check).
function S.step_known(text) return find_step(text) ~= nil end
S.normalize_step = normalize_step

-- Run step S_; returns its status (passed, failed, undefined) and why.
function S.run_step(s_)
  local kind, entry, caps = find_step(s_.text)
  if not kind then
    local hints = S.closest_steps(normalize_step(s_.text))
    return "undefined", "undefined step: \"" .. s_.text .. "\"; the closest known steps are: \""
      .. concat(hints, "\", \"") .. "\""
  end
  local ok, r = xpcall(function()
    if kind == "builtin" then return entry.fn(s_, unpack(caps)) end
    local args = {}
    for i, c in ipairs(caps) do args[i] = c end
    args[#args + 1] = public_world()
    return entry.fn(unpack(args, 1, #caps + 1))
  end, function(e)
    if value.is_failure(e) then return e end
    return { message = value.error_message(e), trace = type(e) == "string" and T.traceback(e, 2) or nil }
  end)
  if ok then
    if kind == "custom" and r == false then return "failed", "the step returned false" end
    return "passed"
  end
  return "failed", value.error_message(r) or r.message
end
