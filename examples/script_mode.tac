-- Script mode: no Procedure {}.  Top-level input {} declares the inputs and
-- resolves them at once (defaults, types), output {} the output schema;
-- the file's statements are the procedure and its return value the result.
input {
  n = field.integer { default = 10, description = "how many Fibonacci numbers" },
  sep = field.string { default = ", " },
}
output {
  sequence = field.string { required = true },
  sum = field.integer { required = true },
}

local fib, a, b, sum = {}, 0, 1, 0
for i = 1, input.n do
  fib[i] = tostring(a)
  sum = sum + a
  a, b = b, a + b
end
Log.info("computed", { n = input.n })
return { sequence = table.concat(fib, input.sep), sum = sum }
