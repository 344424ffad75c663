-- Events seen from Lua: N print() calls, each an events.emit notification
-- (one-way: no reply awaited).  The benchmark runs it with n=0 and n=N and
-- divides the difference.
input { n = field.integer { default = 10000 } }
for i = 1, input.n do print(i) end
return { events = input.n }
