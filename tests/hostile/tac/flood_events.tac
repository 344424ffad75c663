-- attack: flood the broker with 100k events (Log.info) to exhaust its memory.
-- contained: each request is served before the next is read; the run
-- completes or hits its deadline, and the broker's memory stays bounded.
-- args: --timeout 8
-- expect: exit=0|124
-- maxrss: 100
for i = 1, 100000 do Log.info("flood " .. i) end
return "flooded"
