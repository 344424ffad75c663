-- attack: Json.decode of 20 million tiny array items: 40 MB of text becomes
-- over a gigabyte of cJSON nodes outside the Lua allocator.
-- contained: the parse fails cleanly (allocation refused) or the memory
-- limit ends the run; never a crash.
-- args: --memory 256m --timeout 30
-- expect: exit=1|137 error="Json.decode|memory limit|not enough memory"
-- sanitized: skip no RLIMIT_AS in a sanitizer build: the C allocations are not bounded
local text = "[" .. string.rep("0,", 2e7) .. "0]"
local t = Json.decode(text)
return #t
