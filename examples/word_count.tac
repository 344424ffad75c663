-- Word count: a small procedure on its own, and the sub-procedure that
-- subprocedure.tac runs with Procedure.run("word_count.tac", {...}).
Procedure {
  input = {
    text = field.string { default = "the quick brown fox jumps over the lazy dog" },
    min_length = field.integer { default = 1 },
  },
  output = {
    words = field.integer { required = true },
    longest = field.string { required = true },
  },
  function(input)
    local words, longest = 0, ""
    for w in input.text:gmatch("%a+") do
      if #w >= input.min_length then
        words = words + 1
        if #w > #longest then longest = w end
      end
    end
    return { words = words, longest = longest }
  end,
}
