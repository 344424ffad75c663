-- String building and pattern matching: the kind of work a procedure does
-- on text (split, gsub, concat, format).
local words = {}
for i = 1, 200000 do words[i] = string.format("word%d", i % 997) end
local text = table.concat(words, " ")
local counts, n = {}, 0
for w in text:gmatch("%a+%d+") do counts[w] = (counts[w] or 0) + 1 n = n + 1 end
local upper = text:sub(1, 100000):upper():gsub("WORD", "w")
print("tokens " .. n .. ", distinct " .. #upper)
return { tokens = n }
