-- Hello: the smallest procedure.  Takes a name, logs a greeting, returns it.
Procedure {
  input = {
    name = field.string { default = "world", description = "who to greet" },
  },
  output = {
    greeting = field.string { required = true },
  },
  function(input)
    local greeting = "Hello, " .. input.name .. "!"
    Log.info("greeting", { name = input.name })
    return { greeting = greeting }
  end,
}
