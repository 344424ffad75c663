-- Agent chat: one agent, two chat turns; the answer streams to the terminal
-- as the model writes it.  The conversation is kept between turns, so the
-- second question can refer to the first answer.
--
-- Offline (no network, no key; the Mocks block below answers):
--   tactus-run run examples/agent_chat.tac --mock-all
--
-- Against any OpenAI-compatible server (OpenAI, vLLM, llama.cpp's server,
-- Ollama's /v1, a LiteLLM proxy, ...):
--   OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=sk-... \
--     tactus-run run examples/agent_chat.tac --param topic=tides
-- (or openai_base_url / openai_api_key in ~/.tactus/config.yml).  Use the
-- server's model name in `model` below ("openai/<name>").  The key never
-- enters the sandbox: the broker on the host adds it to each request, and
-- the procedure only sees the answer.
tutor = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = "You are a concise tutor. Answer in at most two sentences. Topic: {input.topic}.",
  temperature = 0.2,
  max_tokens = 200,
}

-- What the agent answers under --mock-all: one entry per turn.
Mocks {
  tutor = {
    temporal = {
      { message = "Tides are caused mostly by the Moon's gravity pulling the oceans into two bulges that the Earth rotates through." },
      { message = "A harbour that is deep at noon and mud at dusk: the same water, six hours apart." },
    },
  },
}

Procedure {
  input = {
    topic = field.string { default = "tides", description = "what to ask the tutor about" },
  },
  output = {
    answer = field.string { required = true },
    example = field.string { required = true },
    turns = field.integer { required = true },
  },
  function(input)
    local first = tutor({ message = "What causes {input.topic}? Keep it short." })
    local second = tutor({ message = "Give one everyday example of that." })
    Log.info("chat done", { tokens = first.usage.total_tokens + second.usage.total_tokens })
    return { answer = first.text, example = second.text, turns = tutor.turns() }
  end,
}

-- `tactus-run test examples/agent_chat.tac --mock`: the Mocks block, or a
-- Given step, answers for the model.
Specification([[
Feature: Agent chat
  Scenario: two turns from the Mocks block
    When the procedure runs
    Then the output turns should be 2
    And the tutor agent should take 2 turns
    And the output answer should contain "Moon"
    And the output example should fuzzy match "a harbour, deep at noon and mud at dusk: the same water six hours apart"

  Scenario: a scripted answer
    Given the agent "tutor" responds with "Gravity."
    When the tutor agent takes turns
    Then the output answer should be "Gravity."
    And the output turns should be 2
]])
