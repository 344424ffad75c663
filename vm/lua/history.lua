-- MessageHistory: the procedure's shared conversation (Tactus's
-- MessageHistory primitive without an agent: the shared history).
--
-- Every agent turn is recorded in it (agent.lua calls ctx.history_record).
-- What the procedure appends or injects (append, inject_system) reaches
-- each agent once, on its next turn, ahead of that turn's message
-- (ctx.history_pending), and from then on is part of that agent's own
-- conversation.  Transforms that drop messages (clear, reset, keep_*,
-- rewind*) change this shared record only, not what agents already saw.
--
-- Messages are tables {id, role, content, created_at}; get/head/tail/slice
-- return copies.  Ids count up from 1 and are what checkpoint() returns and
-- rewind_to() takes (or the name given to checkpoint).
local ctx = ...
local G, T = ctx.G, ctx.T
local type, ipairs, tostring, tonumber, error = type, ipairs, tostring, tonumber, error
local ceil, max = math.ceil, math.max

local history = {}
local next_id = 0
local checkpoints = {}

local function entry(role, content, origin)
  next_id = next_id + 1
  return { id = next_id, role = role, content = content, created_at = T.now(), origin = origin }
end

local function copy(list, from, to)
  local out = {}
  for i = from or 1, to or #list do
    local m = list[i]
    if m then out[#out + 1] = { id = m.id, role = m.role, content = m.content, created_at = m.created_at } end
  end
  return out
end

-- The same entries (kept by the transforms: ids and origins stay).
local function slice(list, from, to)
  local out = {}
  for i = from or 1, to or #list do
    if list[i] then out[#out + 1] = list[i] end
  end
  return out
end

local function count(n, what)
  n = tonumber(n or 0)
  if n == nil then error("MessageHistory." .. what .. ": expected a number", 3) end
  return max(0, n - n % 1)
end

local ROLES = { system = true, user = true, assistant = true, tool = true }

local function append(msg)
  if type(msg) ~= "table" then msg = { role = "user", content = msg } end
  local role = msg.role == nil and "user" or tostring(msg.role)
  if not ROLES[role] then
    error("MessageHistory.append: role '" .. role .. "' is not one of system, user, assistant, tool", 3)
  end
  local content = msg.content == nil and "" or msg.content
  if type(content) ~= "string" then content = T.json_encode(content) end
  history[#history + 1] = entry(role, content, "procedure")
end

-- Tokens estimated as a quarter of the characters (rounded up), as the
-- shortest honest guess without a tokenizer.
local function tokens(m) return ceil(#tostring(m.content or "") / 4) + 1 end

local function tail_tokens(budget)
  budget = count(budget, "tail_tokens")
  local used, first = 0, #history + 1
  for i = #history, 1, -1 do
    used = used + tokens(history[i])
    if used > budget then break end
    first = i
  end
  return first
end

local function replace_with(list) history = list end

G.MessageHistory = {
  append = function(msg) append(msg) end,
  inject_system = function(text)
    if type(text) ~= "string" then error("MessageHistory.inject_system: expected a string", 2) end
    history[#history + 1] = entry("system", text, "procedure")
  end,
  clear = function() history = {} end,
  get = function() return copy(history) end,
  replace = function(list)
    if type(list) ~= "table" then error("MessageHistory.replace: expected a list of messages", 2) end
    local new = {}
    for _, m in ipairs(list) do
      if type(m) ~= "table" then error("MessageHistory.replace: every message must be a table {role, content}", 2) end
      new[#new + 1] = entry(m.role or "user", m.content == nil and "" or m.content, "procedure")
    end
    replace_with(new)
  end,
  reset = function(opts)
    local keep = type(opts) == "table" and opts.keep or (type(opts) == "string" and opts) or "system_prefix"
    local kept = {}
    if keep == "system_all" then
      for _, m in ipairs(history) do if m.role == "system" then kept[#kept + 1] = m end end
    elseif keep == "system_prefix" then
      for _, m in ipairs(history) do
        if m.role ~= "system" then break end
        kept[#kept + 1] = m
      end
    elseif keep ~= "none" then
      error("MessageHistory.reset: keep must be system_prefix, system_all or none", 2)
    end
    replace_with(kept)
  end,
  head = function(n) return copy(history, 1, count(n, "head")) end,
  tail = function(n)
    n = count(n, "tail")
    if n == 0 then return {} end
    return copy(history, #history - n + 1)
  end,
  slice = function(opts)
    if type(opts) ~= "table" then return {} end
    local start = max(1, tonumber(opts.start) or 1)
    local stop = tonumber(opts.stop)
    return copy(history, start, stop and stop or #history)
  end,
  tail_tokens = function(n) return copy(history, tail_tokens(n)) end,
  keep_head = function(n) replace_with(slice(history, 1, count(n, "keep_head"))) end,
  keep_tail = function(n)
    n = count(n, "keep_tail")
    replace_with(n == 0 and {} or slice(history, #history - n + 1))
  end,
  keep_tail_tokens = function(n) replace_with(slice(history, tail_tokens(n))) end,
  rewind = function(n)
    n = count(n, "rewind")
    if n > 0 then replace_with(slice(history, 1, #history - n)) end
  end,
  checkpoint = function(name)
    local last = history[#history]
    if last == nil then return nil end
    if type(name) == "string" then checkpoints[name] = last.id end
    return last.id
  end,
  rewind_to = function(id)
    if type(id) == "string" and checkpoints[id] then id = checkpoints[id] end
    id = tonumber(id)
    if id == nil then return end
    for i, m in ipairs(history) do
      if m.id == id then replace_with(slice(history, 1, i)) return end
    end
  end,
}

-- Session: the older Tactus name of the same primitive (history() is get()).
G.Session = { append = G.MessageHistory.append, inject_system = G.MessageHistory.inject_system,
              clear = G.MessageHistory.clear, history = G.MessageHistory.get }

-- A turn of AGENT_NAME: its messages (role/content tables) join the record.
function ctx.history_record(agent_name, messages)
  for _, m in ipairs(messages) do
    if m.role ~= "tool" and type(m.content) == "string" and m.content ~= "" then
      history[#history + 1] = entry(m.role, m.content, agent_name)
    end
  end
end

-- The procedure's messages an agent has not seen yet (since message id
-- SEEN); returns them (role/content) and the id to remember.
function ctx.history_pending(seen)
  local out = {}
  for _, m in ipairs(history) do
    if m.id > (seen or 0) and m.origin == "procedure" then out[#out + 1] = { role = m.role, content = m.content } end
  end
  return out, next_id
end
