-- Classify { method = "llm" | "fuzzy", ... }: Tactus's classification
-- primitive (tactus/stdlib/classify), and require("tactus.classify").
--
--   llm    classes, prompt (required); name, model, temperature (0.3),
--          max_retries (3), confidence_mode ("heuristic" | "none").  An
--          agent of its own answers; an answer that is not one of the
--          classes is sent back with the valid ones, up to max_retries
--          times; then the value is "ERROR".
--   fuzzy  classes (multi-class: the closest class, or "NO_MATCH") or
--          expected (binary: "Yes" / "No"); threshold (0.8), algorithm
--          (ratio, token_set_ratio, token_sort_ratio, partial_ratio).
--
-- A classifier is called with the text (or {text = ...}); with input = ...
-- in its declaration, Classify returns the result at once.  A result:
-- value, confidence, explanation, retry_count, raw_response, matched_text,
-- error.
--
-- Mocks: in mock mode (--mock-all, tactus-run test --mock) a Mocks {}
-- entry named as the classifier answers each attempt instead of the model,
-- as a result table ({value =, confidence =}) or a bare value; temporal
-- entries answer one attempt each, so an invalid first value shows the
-- retry.
local ctx = ...
local G, T = ctx.G, ctx.T
local type, pairs, ipairs, tostring, tonumber, error, setmetatable =
  type, pairs, ipairs, tostring, tonumber, error, setmetatable
local format, lower, find, gsub, match, sub = string.format, string.lower, string.find, string.gsub,
  string.match, string.sub
local concat = table.concat
local similarity = ctx.lib("similarity")

local function input_text(x)
  if type(x) == "table" then
    local t = x.text
    if t == nil then t = x.input end
    if t ~= nil then return tostring(t) end
    return T.json_encode(x)
  end
  if x == nil then return "" end
  return tostring(x)
end

local function quoted_list(classes)
  local out = {}
  for i, c in ipairs(classes) do out[i] = '"' .. tostring(c) .. '"' end
  return concat(out, ", ")
end

local function check_classes(classes, what)
  if type(classes) ~= "table" or #classes == 0 then
    error("Classify: " .. what .. " needs classes = {\"a\", \"b\", ...} (a non-empty list)", 3)
  end
  for i, c in ipairs(classes) do
    if type(c) ~= "string" then error("Classify: classes[" .. i .. "] must be a string", 3) end
  end
end

local function new_classifier(kind, cfg, classify)
  local self = { method = kind, name = cfg.name, classes = cfg.classes, total_calls = 0, total_retries = 0 }
  function self:classify(x)
    self.total_calls = self.total_calls + 1
    local r = classify(self, input_text(x))
    self.total_retries = self.total_retries + (r.retry_count or 0)
    ctx.emit("log", { level = "DEBUG", logger_name = "classify", message = "Classify "
      .. tostring(self.name or kind) .. ": " .. tostring(r.value) })
    return r
  end
  function self:reset() if self.agent then self.agent.reset() end end
  return setmetatable(self, { __call = function(s, x) return s:classify(x) end })
end

---------------------------------------------------------------------------
-- fuzzy

local function fuzzy_classifier(cfg)
  local threshold = cfg.threshold == nil and 0.8 or tonumber(cfg.threshold)
  if threshold == nil then error("Classify: threshold must be a number from 0 to 1", 3) end
  local algorithm = cfg.algorithm or "ratio"
  if similarity.algorithms[algorithm] == nil then
    error("Classify: algorithm '" .. tostring(algorithm) .. "' is not one of ratio, token_set_ratio, "
      .. "token_sort_ratio, partial_ratio", 3)
  end
  local binary = cfg.expected ~= nil
  if binary then
    cfg.classes = { "Yes", "No" }
  elseif cfg.classes == nil then
    error("Classify: method = \"fuzzy\" needs expected = \"...\" (Yes/No) or classes = {...}", 3)
  else
    check_classes(cfg.classes, "method = \"fuzzy\"")
  end
  return new_classifier("fuzzy", cfg, function(_, text)
    if binary then
      local score = similarity.classify(text, tostring(cfg.expected), algorithm)
      if score >= threshold then
        return { value = "Yes", confidence = score, matched_text = cfg.expected, retry_count = 0,
          explanation = format("Input matches expected value with %.1f%% similarity using %s (threshold: %.1f%%)",
            score * 100, algorithm, threshold * 100) }
      end
      return { value = "No", confidence = 1.0 - score, retry_count = 0,
        explanation = format("Input does not match expected value. Similarity: %.1f%% using %s (threshold: %.1f%%)",
          score * 100, algorithm, threshold * 100) }
    end
    local best, best_score = nil, 0.0
    for _, c in ipairs(cfg.classes) do
      local score = similarity.classify(text, c, algorithm)
      if score > best_score then best, best_score = c, score end
    end
    if best ~= nil and best_score >= threshold then
      return { value = best, confidence = best_score, matched_text = best, retry_count = 0,
        explanation = format("Best match: '%s' with %.1f%% similarity using %s", best, best_score * 100, algorithm) }
    end
    return { value = "NO_MATCH", confidence = 1.0 - best_score, retry_count = 0,
      explanation = format("No class matched above threshold using %s. Best was '%s' at %.1f%% (threshold: %.1f%%)",
        algorithm, tostring(best), best_score * 100, threshold * 100) }
  end)
end

---------------------------------------------------------------------------
-- llm

local function system_prompt(prompt, classes)
  return "You are a classification assistant. Classify the input according to this instruction:\n\n"
    .. prompt .. "\n\nVALID CLASSIFICATIONS: " .. quoted_list(classes) .. "\n\n"
    .. "Answer with exactly one of the valid classifications on the first line, "
    .. "then a brief explanation on the following lines."
end

-- The class an answer names: its first line without markdown, quotes,
-- colons and dots, equal to a class, starting with one, or containing
-- exactly one (case-insensitive); else the first line itself.
local function parse_answer(text, classes)
  text = match(text or "", "^%s*(.-)%s*$")
  if text == "" then return nil end
  local first = match(text, "^([^\n]*)")
  local explanation = match(text, "^[^\n]*\n(.*)$")
  if explanation then explanation = match(explanation, "^%s*(.-)%s*$") end
  if explanation == "" then explanation = nil end
  local cleaned = lower(match((gsub(first, "[%*\"'`:%.]", "")), "^%s*(.-)%s*$"))
  for _, c in ipairs(classes) do
    if cleaned == lower(c) then return c, explanation end
  end
  for _, c in ipairs(classes) do
    if sub(cleaned, 1, #c) == lower(c) then return c, explanation end
  end
  for _, c in ipairs(classes) do
    local lc = lower(c)
    if find(cleaned, lc, 1, true) then
      local partial = false
      for _, o in ipairs(classes) do
        if o ~= c and find(lower(o), lc, 1, true) then partial = true break end
      end
      if not partial then return c, explanation end
    end
  end
  return first, explanation
end

local HIGH = { "definitely", "certainly", "clearly", "obviously", "absolutely", "100%", "very confident" }
local MEDIUM = { "likely", "probably", "appears to be", "seems to be", "confident" }
local LOW = { "possibly", "might be", "could be", "not sure", "uncertain", "difficult to tell" }

local function heuristic_confidence(text)
  local l = lower(text)
  for _, w in ipairs(HIGH) do if find(l, w, 1, true) then return 0.95 end end
  for _, w in ipairs(MEDIUM) do if find(l, w, 1, true) then return 0.80 end end
  for _, w in ipairs(LOW) do if find(l, w, 1, true) then return 0.50 end end
  return 0.75
end

local function in_classes(v, classes)
  for _, c in ipairs(classes) do if v == c then return true end end
  return false
end

local function llm_classifier(cfg)
  check_classes(cfg.classes, "method = \"llm\"")
  if type(cfg.prompt) ~= "string" or cfg.prompt == "" then
    error("Classify: method = \"llm\" needs prompt = \"...\" (the instruction for the model)", 3)
  end
  local max_retries = cfg.max_retries == nil and 3 or tonumber(cfg.max_retries)
  if max_retries == nil or max_retries < 0 then error("Classify: max_retries must be a number, 0 or more", 3) end
  local mode = cfg.confidence_mode or "heuristic"
  local classifier
  local agent = ctx.make_agent({
    name = cfg.name, internal = true, model = cfg.model, system_prompt = system_prompt(cfg.prompt, cfg.classes),
    temperature = cfg.temperature == nil and 0.3 or cfg.temperature, max_tokens = cfg.max_tokens,
  })
  -- A Mocks entry of classifier results answers in mock mode; one scripted
  -- like an agent's turns ({message =, tool_calls =}, as a scenario's
  -- 'the agent "NAME" responds with' makes) is left to the agent.
  local function result_mock(mname)
    local m = mname and ctx.mocks[mname]
    if m == nil or not ctx.is_mocked(mname) then return false end
    local probe = m
    if type(m) == "table" then
      if m.temporal then probe = m.temporal[1] elseif m.returns ~= nil then probe = m.returns end
    end
    return not (type(probe) == "table" and (probe.message ~= nil or probe.tool_calls ~= nil or probe.response ~= nil))
  end
  local function ask(message, text)
    if result_mock(cfg.name) then
      local ok, v = ctx.mock_answer(cfg.name, { text = text })
      if ok then return v end
    end
    local r = agent({ message = message })
    return r.text or r.output
  end
  classifier = new_classifier("llm", cfg, function(_, text)
    agent.reset()
    local retry_count, last = 0, nil
    for attempt = 0, max_retries do
      local message
      if attempt == 0 then
        message = "Please classify the following:\n\n" .. text
      else
        retry_count = retry_count + 1
        message = "Your previous response was not a valid classification.\n\nPrevious response: \""
          .. sub(tostring(last), 1, 200) .. "\"\n\nVALID CLASSIFICATIONS ARE: " .. quoted_list(cfg.classes)
          .. "\n\nAnswer with exactly one of these on the first line, then your explanation."
      end
      local answer = ask(message, text)
      local value, confidence, explanation
      if type(answer) == "table" then
        -- a mocked result
        value, confidence, explanation = answer.value, tonumber(answer.confidence), answer.explanation
        last = value
      else
        last = answer == nil and "" or tostring(answer)
        value, explanation = parse_answer(last, cfg.classes)
        if mode ~= "none" then confidence = heuristic_confidence(last) end
      end
      if value ~= nil and in_classes(value, cfg.classes) then
        return { value = value, confidence = confidence, explanation = explanation, retry_count = retry_count,
                 raw_response = type(answer) == "table" and T.json_encode(answer) or last }
      end
    end
    return { value = "ERROR", retry_count = retry_count, raw_response = last,
             error = "no valid class after " .. max_retries .. " retries; the last answer: "
               .. sub(tostring(last), 1, 200) }
  end)
  classifier.agent = agent
  return classifier
end

---------------------------------------------------------------------------

local METHODS = { llm = llm_classifier, fuzzy = fuzzy_classifier }

local function make(cfg)
  if type(cfg) ~= "table" then
    error("Classify expects a table: Classify { method = \"llm\", classes = {...}, prompt = \"...\" }", 3)
  end
  local copy = {}
  for k, v in pairs(cfg) do copy[k] = v end
  local method = copy.method or "llm"
  local ctor = METHODS[method]
  if ctor == nil then
    error("Classify: method '" .. tostring(method) .. "' is not available; the methods are llm and fuzzy", 3)
  end
  local classifier = ctor(copy)
  if copy.input ~= nil then return classifier:classify(copy.input) end
  return classifier
end

G.Classify = function(cfg) return make(cfg) end

-- require("tactus.classify") / ("tactus.text.classify")
function ctx.classify_module()
  local function class_of(method)
    return { new = function(_, cfg)
      if type(cfg) == "table" then cfg.method = method end
      return make(cfg)
    end }
  end
  return { Classify = G.Classify, LLMClassifier = class_of("llm"), FuzzyMatchClassifier = class_of("fuzzy"),
           FuzzyClassifier = class_of("fuzzy") }
end
