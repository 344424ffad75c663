-- How alike two texts are, as Tactus measures it, and "did you mean".
--
--   levenshtein(a, b)         edits between two byte strings
--   sequence_ratio(a, b)      Python's difflib.SequenceMatcher(None, a, b).ratio()
--                             (autojunk included), over UTF-8 characters
--   fuzzy_match(actual, exp)  the spec step "should fuzzy match": both texts
--                             lower-cased, punctuation dropped, spaces
--                             collapsed; one inside the other is 1.0, else
--                             the sequence ratio
--   ratio / token_sort_ratio / token_set_ratio / partial_ratio (a, b)
--                             rapidfuzz's fuzz.* scores, 0..100 (Indel:
--                             2 * LCS / (len a + len b))
--   classify(a, b, algorithm) Classify { method = "fuzzy" }: lower-cased,
--                             trimmed, one of the four above, 0..1
--   closest(word, candidates) the candidate a typo most likely meant, or
--                             nil (the Lua side of common/suggest.c: the
--                             same rule)
local T = ...
local type, ipairs, pairs, error, tostring, next = type, ipairs, pairs, error, tostring, next
local sub, byte, gsub, gmatch, lower, match, find = string.sub, string.byte, string.gsub,
  string.gmatch, string.lower, string.match, string.find
local concat, sort = table.concat, table.sort
local floor = math.floor

local M = {}

-- Texts are cut before comparing: the work is quadratic.
local MAX_CHARS = 4000

function M.levenshtein(a, b)
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

-- UTF-8 characters of S, as a list (an invalid byte stands for itself).
local function chars(s)
  local out, n = {}, 0
  for c in gmatch(sub(s, 1, MAX_CHARS * 4), "[%z\1-\127\194-\244][\128-\191]*") do
    n = n + 1
    out[n] = c
    if n >= MAX_CHARS then break end
  end
  return out, n
end
M.chars = chars

-- difflib's longest matching block of a[alo..ahi) and b[blo..bhi)
-- (0-based, half open, as in Python), with its b2j index.
local function longest_match(a, b2j, alo, ahi, blo, bhi, b)
  local besti, bestj, bestsize = alo, blo, 0
  local j2len = {}
  for i = alo, ahi - 1 do
    local newj2len = {}
    local js = b2j[a[i + 1]]
    if js then
      for _, j in ipairs(js) do
        if j >= blo then
          if j >= bhi then break end
          local k = (j2len[j - 1] or 0) + 1
          newj2len[j] = k
          if k > bestsize then besti, bestj, bestsize = i - k + 1, j - k + 1, k end
        end
      end
    end
    j2len = newj2len
  end
  -- No explicit junk: extend over equal elements (popular ones included).
  while besti > alo and bestj > blo and a[besti] == b[bestj] do
    besti, bestj, bestsize = besti - 1, bestj - 1, bestsize + 1
  end
  while besti + bestsize < ahi and bestj + bestsize < bhi and a[besti + bestsize + 1] == b[bestj + bestsize + 1] do
    bestsize = bestsize + 1
  end
  return besti, bestj, bestsize
end

-- The number of elements in difflib's matching blocks of lists A and B.
local function matched(a, la, b, lb)
  local b2j = {}
  for j = 1, lb do
    local e = b[j]
    local list = b2j[e]
    if list == nil then list = {}; b2j[e] = list end
    list[#list + 1] = j - 1
  end
  -- autojunk: in a b of 200 or more elements, an element found more than
  -- 1% (+1) of the time is "popular" and never starts a match.
  if lb >= 200 then
    local ntest = floor(lb / 100) + 1
    for e, list in pairs(b2j) do
      if #list > ntest then b2j[e] = nil end
    end
  end
  local total = 0
  local queue = { { 0, la, 0, lb } }
  while #queue > 0 do
    local q = queue[#queue]
    queue[#queue] = nil
    local alo, ahi, blo, bhi = q[1], q[2], q[3], q[4]
    local i, j, k = longest_match(a, b2j, alo, ahi, blo, bhi, b)
    if k > 0 then
      total = total + k
      if alo < i and blo < j then queue[#queue + 1] = { alo, i, blo, j } end
      if i + k < ahi and j + k < bhi then queue[#queue + 1] = { i + k, ahi, j + k, bhi } end
    end
  end
  return total
end

function M.sequence_ratio(s1, s2)
  local a, la = chars(s1)
  local b, lb = chars(s2)
  if la + lb == 0 then return 1.0 end
  return 2.0 * matched(a, la, b, lb) / (la + lb)
end

-- Tactus's normalization for the fuzzy-match step: lower case, no
-- punctuation (what is not a word character or a space), spaces collapsed.
-- Bytes of non-ASCII characters count as word characters (\w is Unicode
-- in Python).
local function normalize(s)
  s = gsub(lower(s), "[%p%c]", function(c)
    if c == "_" or find(c, "%s") then return c end
    return ""
  end)
  return match(gsub(s, "%s+", " "), "^ ?(.-) ?$")
end
M.normalize = normalize

function M.fuzzy_match(actual, expected)
  local a, e = normalize(actual), normalize(expected)
  -- Tactus also scores an empty output as 1.0 against anything ("" is in
  -- every text); an empty answer matching every expectation is a bug, so
  -- only a non-empty text counts as contained.
  if e ~= "" and a ~= "" and (find(a, e, 1, true) or find(e, a, 1, true)) then return 1.0 end
  return M.sequence_ratio(a, e)
end

-- Longest common subsequence of two character lists.
local function lcs(a, la, b, lb)
  if la == 0 or lb == 0 then return 0 end
  local prev, cur = {}, {}
  for j = 0, lb do prev[j] = 0 end
  for i = 1, la do
    cur[0] = 0
    local x = a[i]
    for j = 1, lb do
      if x == b[j] then cur[j] = prev[j - 1] + 1
      else
        local u, l = prev[j], cur[j - 1]
        cur[j] = u > l and u or l
      end
    end
    prev, cur = cur, prev
  end
  return prev[lb]
end

local function indel_ratio(a, la, b, lb)
  if la + lb == 0 then return 100.0 end
  return 200.0 * lcs(a, la, b, lb) / (la + lb)
end

function M.ratio(s1, s2)
  local a, la = chars(s1)
  local b, lb = chars(s2)
  return indel_ratio(a, la, b, lb)
end

local function tokens(s)
  local list = {}
  for w in gmatch(s, "%S+") do list[#list + 1] = w end
  return list
end

function M.token_sort_ratio(s1, s2)
  local t1, t2 = tokens(s1), tokens(s2)
  sort(t1)
  sort(t2)
  return M.ratio(concat(t1, " "), concat(t2, " "))
end

-- rapidfuzz's token_set_ratio: the shared words, and what each adds.
function M.token_set_ratio(s1, s2)
  local set1, set2 = {}, {}
  for _, w in ipairs(tokens(s1)) do set1[w] = true end
  for _, w in ipairs(tokens(s2)) do set2[w] = true end
  if next(set1) == nil or next(set2) == nil then return 0.0 end
  local sect, only1, only2 = {}, {}, {}
  for w in pairs(set1) do if set2[w] then sect[#sect + 1] = w else only1[#only1 + 1] = w end end
  for w in pairs(set2) do if not set1[w] then only2[#only2 + 1] = w end end
  if #sect > 0 and (#only1 == 0 or #only2 == 0) then return 100.0 end
  sort(sect)
  sort(only1)
  sort(only2)
  local d1, d2, st = concat(only1, " "), concat(only2, " "), concat(sect, " ")
  local c1, l1 = chars(d1)
  local c2, l2 = chars(d2)
  local lsect = #chars(st)
  local sep = lsect > 0 and 1 or 0
  local len_1, len_2 = lsect + sep + l1, lsect + sep + l2
  -- The two "shared + own" texts differ only in their own parts.
  local dist = l1 + l2 - 2 * lcs(c1, l1, c2, l2)
  local result = 0.0
  if len_1 + len_2 > 0 then result = 100.0 - 100.0 * dist / (len_1 + len_2) end
  if lsect == 0 then return result end
  local r1 = 100.0 - 100.0 * (sep + l1) / (lsect + len_1)
  local r2 = 100.0 - 100.0 * (sep + l2) / (lsect + len_2)
  if r1 > result then result = r1 end
  if r2 > result then result = r2 end
  return result
end

-- The best ratio of the shorter text against every window of the longer
-- one of the same length (and the partial windows at both ends).
function M.partial_ratio(s1, s2)
  local a, la = chars(s1)
  local b, lb = chars(s2)
  if la > lb then a, la, b, lb = b, lb, a, la end
  if la == 0 then return lb == 0 and 100.0 or 0.0 end
  local best = 0.0
  local function try(from, to)
    local w, n = {}, 0
    for k = from, to do n = n + 1; w[n] = b[k] end
    local r = indel_ratio(a, la, w, n)
    if r > best then best = r end
  end
  for i = 1, la - 1 do try(1, i) end
  for i = 1, lb - la + 1 do
    try(i, i + la - 1)
    if best == 100.0 then return best end
  end
  for i = lb - la + 2, lb do try(i, lb) end
  return best
end

local ALGORITHMS = { ratio = M.ratio, token_set_ratio = M.token_set_ratio,
                     token_sort_ratio = M.token_sort_ratio, partial_ratio = M.partial_ratio }
M.algorithms = ALGORITHMS

function M.classify(s1, s2, algorithm)
  local f = ALGORITHMS[algorithm or "ratio"]
  if f == nil then
    error("unknown algorithm '" .. tostring(algorithm)
      .. "' (choose ratio, token_set_ratio, token_sort_ratio or partial_ratio)", 0)
  end
  if type(s1) ~= "string" or type(s2) ~= "string" or s1 == "" or s2 == "" then return 0.0 end
  local a, b = match(lower(s1), "^%s*(.-)%s*$"), match(lower(s2), "^%s*(.-)%s*$")
  return f(a, b) / 100.0
end

-- Edits between two names, a swap of neighbours counting as one edit
-- (optimal string alignment): "agnet" is one edit from "agent".
function M.name_distance(a, b)
  local la, lb = #a, #b
  local d = {}
  for i = 0, la do d[i] = { [0] = i } end
  for j = 0, lb do d[0][j] = j end
  for i = 1, la do
    local ca = byte(a, i)
    for j = 1, lb do
      local cb = byte(b, j)
      local v = d[i - 1][j] + 1
      local w = d[i][j - 1] + 1
      if w < v then v = w end
      w = d[i - 1][j - 1] + (ca == cb and 0 or 1)
      if w < v then v = w end
      if i > 1 and j > 1 and ca == byte(b, j - 1) and byte(a, i - 1) == cb and d[i - 2][j - 2] + 1 < v then
        v = d[i - 2][j - 2] + 1
      end
      d[i][j] = v
    end
  end
  return d[la][lb]
end

-- "Did you mean": the candidate a typo of WORD most likely meant, or nil.
-- Close enough is at most a third of the longer name's length in edits
-- (at least 1), a difference of case only, or WORD being the start (3+
-- characters) of the candidate; the fewest edits win, ties going to the
-- earlier candidate.  The same rule as tr_suggest (common/suggest.c).
function M.closest(word, candidates)
  if type(word) ~= "string" or word == "" then return nil end
  local lw = lower(word)
  local best, best_d
  for _, c in ipairs(candidates) do
    if type(c) == "string" and c ~= word and c ~= "" then
      local lc = lower(c)
      local d = lc == lw and 0 or M.name_distance(lw, lc)
      local longer = #c > #word and #c or #word
      local limit = floor(longer / 3)
      if limit < 1 then limit = 1 end
      local ok = d <= limit or (#word >= 3 and sub(lc, 1, #lw) == lw)
      if ok and (best_d == nil or d < best_d) then best, best_d = c, d end
    end
  end
  return best
end

return M
