-- Tools: Lua tools declared with x = Tool { description, input, function },
-- called directly; their arguments are validated against the input schema
-- (defaults filled in).  Each handle tracks its calls (x.called(),
-- x.last_result(), x.last_call()); Tool.called(name) asks by name; a
-- Toolset groups tools.  Every call is a tool_call event in the trace.
add = Tool {
  description = "Add two numbers",
  input = {
    a = field.number { required = true },
    b = field.number { default = 0 },
  },
  function(args) return args.a + args.b end,
}

slugify = Tool {
  description = "Lower-case a title and join its words with dashes",
  input = { title = field.string { required = true } },
  function(args)
    return (args.title:lower():gsub("[^%w]+", "-"):gsub("^-+", ""):gsub("-+$", ""))
  end,
}

Toolset "text" { tools = { slugify } }

Procedure {
  function(input)
    local before = slugify.called()
    local sum = add({ a = 2, b = 3 })
    local one = add({ a = 1 })                     -- b defaults to 0
    local slug = slugify({ title = "Hello, Tactus World!" })

    -- Arguments are checked: a missing required one is an error.
    local ok, err = pcall(add, { b = 1 })

    return {
      sum = sum,
      one = one,
      slug = slug,
      slugify_called_before = before,
      add_called = add.called(),
      add_calls = add.call_count(),
      add_last_result = add.last_result(),
      add_last_args = add.last_call().args,
      by_name = Tool.called("slugify"),
      never_called = Tool.called("no_such_tool"),
      last_slug = Tool.last_result("slugify"),
      toolset_size = #Toolset.get("text").tools,
      bad_args = not ok and err.message or nil,
    }
  end,
}

-- `tactus-run test examples/tools.tac`
Specification([[
Feature: Lua tools
  Scenario: calls, arguments and call tracking
    When the procedure runs
    Then the output sum should be 5
    And the output slug should be "hello-tactus-world"
    And the add tool should be called exactly 2 times
    And the add tool should be called with a=2 and b=3
    And the add tool should be called with a=1 and b=0
    And the slugify tool should be called with title="Hello, Tactus World!"
    And the output bad_args should contain "missing required field 'a'"
    And the output toolset_size should be 1

  Scenario: a mocked tool
    Given the tool "slugify" returns "mocked-slug"
    When the procedure runs
    Then the output slug should be "mocked-slug"
    And the output last_slug should be "mocked-slug"
]])
