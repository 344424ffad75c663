-- Helper of overwrite_dsl_globals: checks its own globals are the real ones.
assert(type(Tool) == "table", "Tool was removed")
assert(type(Json) == "table" and Json.encode({ 1 }) == "[1]", "Json was replaced")
assert(type(string.format) == "function", "string.format was removed")
Log.info("INTACT-SUB")
return "INTACT-SUB " .. string.format("%d", 1)
