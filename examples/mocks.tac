-- Mocks and mock models: Model { type = "mock" } is a model whose answer is
-- fixed (a value, or a function of the input).  Mocks {} gives tools, host
-- tools and agents scripted results in mock mode (--mock-all, or
-- tactus-run test --mock), so nothing leaves the sandbox: weather is
-- "sunny" and host_ping "mocked" with --mock-all; without it the real tool
-- runs and host.ping is denied (no policy allows it).
--
--   tactus-run run examples/mocks.tac
--   tactus-run run examples/mocks.tac --mock-all
sentiment = Model { type = "mock", value = { label = "positive", confidence = 0.9 } }
Model "length" { type = "mock", value = function(input) return { chars = #input.text } end }

weather = Tool {
  description = "Look up the weather (a real version would call a service)",
  input = { city = field.string { required = true } },
  function(args) return { city = args.city, sky = "unknown" } end,
}

Mocks {
  weather = { returns = { city = "Paris", sky = "sunny" } },
  ["host.ping"] = { returns = { pong = "mocked" } },
}

Procedure {
  input = { text = field.string { default = "what a lovely day" } },
  function(input)
    local s = sentiment({ text = input.text })
    local len = Model("length")({ text = input.text })
    local w = weather({ city = "Paris" })
    -- No policy allows host.ping: denied, unless --mock-all mocks it.
    local ok, ping = pcall(Host.call, "host.ping", {})
    return {
      host_ping = ok and ping.pong or ("denied: " .. ping.type),
      label = s.output.label,
      chars = len.output.chars,
      sky = w.sky,
      weather_called = weather.called(),
    }
  end,
}

-- `tactus-run test examples/mocks.tac --mock`: Mocks {} answer unless a
-- Given step says otherwise.
Specification([[
Feature: Mocks
  Scenario: the Mocks block and the mock models
    When the procedure runs
    Then the output label should be "positive"
    And the output chars should be 17
    And the output sky should be "sunny"
    And the output weather_called should be true
    And the weather tool should be called with city="Paris"

  Scenario: Given steps win over the Mocks block
    Given the tool "weather" returns {"city": "Oslo", "sky": "rain"}
    And the model "sentiment" returns {"label": "negative", "confidence": 0.2}
    And the tool "host.ping" returns {"pong": "from the scenario"}
    When the procedure runs
    Then the output sky should be "rain"
    And the output label should be "negative"
    And the output host_ping should be "from the scenario"
]])
