-- Mocks and mock models: Model { type = "mock" } is a model whose answer is
-- fixed (a value, or a function of the input); Mocks {} gives tools and
-- models scripted results.  --mock-all also mocks every host tool (its
-- Mocks entry, or { mocked = true }) and agent, so nothing leaves the
-- sandbox: host_ping is "mocked" with it and denied without it.
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
