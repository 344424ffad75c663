-- Agent with tools: the model prices a shopping list with two Lua tools
-- (lookup_price, convert) and ends by calling done with a summary.  The
-- tools run inside the sandbox; only the model call goes out, through the
-- broker.  A turn goes on (model -> tools -> model ...) until the model
-- calls done or answers without tools, at most max_turns model calls.
--
-- Offline (no network, no key; the Mocks block scripts the model's calls,
-- and the real Lua tools run):
--   tactus-run run examples/agent_tools.tac --mock-all
--
-- Against any OpenAI-compatible server that supports tool calls:
--   OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=sk-... \
--     tactus-run run examples/agent_tools.tac --param currency=GBP
-- (set `model` below to "openai/<the server's model name>").
local done = require("tactus.tools.done")

local PRICES_USD = { coffee = 3.50, sandwich = 7.25, apple = 0.80, newspaper = 2.00 }
local RATES = { USD = 1.0, EUR = 0.92, GBP = 0.79, JPY = 151.0 }

lookup_price = Tool {
  description = "The price of one item, in US dollars",
  input = { item = field.string { required = true, description = "the item's name, lower case" } },
  function(args)
    local p = PRICES_USD[string.lower(args.item)]
    if p == nil then return { error = "no price for " .. args.item } end
    return { item = args.item, usd = p }
  end,
}

convert = Tool {
  description = "Convert an amount of US dollars to another currency",
  input = {
    amount = field.number { required = true, description = "US dollars" },
    currency = field.string { required = true, description = "USD, EUR, GBP or JPY" },
  },
  function(args)
    local rate = RATES[string.upper(args.currency)]
    if rate == nil then return { error = "unknown currency " .. args.currency } end
    return { currency = string.upper(args.currency), amount = math.floor(args.amount * rate * 100 + 0.5) / 100 }
  end,
}

shopper = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = "You price shopping lists. Call lookup_price once per item, add the prices up, "
    .. "call convert once for the total in {input.currency}, then call done with a one-line summary.",
  tools = { lookup_price, convert, done },
  max_turns = 8,
}

-- The model's side under --mock-all: what it says and which tools it calls.
Mocks {
  shopper = {
    message = "Pricing coffee and a sandwich.",
    tool_calls = {
      { tool = "lookup_price", args = { item = "coffee" } },
      { tool = "lookup_price", args = { item = "sandwich" } },
      { tool = "convert", args = { amount = 10.75, currency = "EUR" } },
      { tool = "done", args = { reason = "coffee + sandwich = 10.75 USD = 9.89 EUR" } },
    },
  },
}

Procedure {
  input = {
    items = field.string { default = "coffee, sandwich", description = "comma-separated items" },
    currency = field.string { default = "EUR", enum = { "USD", "EUR", "GBP", "JPY" } },
  },
  output = {
    summary = field.string { required = true },
    prices_looked_up = field.integer { required = true },
    conversions = field.integer { required = true },
  },
  function(input)
    local turns = 0
    repeat
      shopper({ message = "Price these items: " .. input.items .. "." })
      turns = turns + 1
    until done.called() or turns >= 3
    return {
      summary = done.called() and done.last_call().args.reason or "(the model did not finish)",
      prices_looked_up = lookup_price.call_count(),
      conversions = convert.call_count(),
    }
  end,
}

-- `tactus-run test examples/agent_tools.tac --mock`: the model's tool calls
-- come from the Mocks block or the Given steps; the Lua tools really run.
Specification([[
Feature: Agent with tools
  Scenario: the Mocks block prices coffee and a sandwich
    When the procedure runs
    Then the lookup_price tool should be called exactly 2 times
    And the lookup_price tool should be called with item="coffee"
    And the convert tool should be called with currency="EUR"
    And the done tool should be called
    And the output summary should contain "9.89 EUR"
    And the output prices_looked_up should be 2

  Scenario: a scripted turn
    Given the agent "shopper" responds with "Just an apple."
    And the agent "shopper" calls tool "lookup_price" with args {"item": "apple"}
    And the agent "shopper" calls tool "done" with args {"reason": "one apple: 0.80 USD"}
    When the shopper agent takes turn
    Then the output prices_looked_up should be 1
    And the convert tool should not be called
    And the output summary should be "one apple: 0.80 USD"
]])
