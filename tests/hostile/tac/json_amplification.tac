-- attack: Json.encode of 3000 references to one 1 MB string: tiny in the Lua
-- heap, 3 GB in cJSON's C allocations (outside the Lua allocator's cap).
-- contained: the allocation fails (RLIMIT_AS or cgroup memory.max) and the
-- run ends with an error or the memory limit; no crash, the host unaffected.
-- args: --memory 64m --timeout 30
-- expect: exit=1|137 error="Json.encode|memory limit"
-- sanitized: skip no RLIMIT_AS in a sanitizer build: the C allocations are not bounded
local big = string.rep("x", 1e6)
local t = {}
for i = 1, 3000 do t[i] = big end
return #Json.encode(t)
