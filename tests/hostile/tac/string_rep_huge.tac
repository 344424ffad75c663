-- attack: string.rep with a size near 2^31 (and with a separator) to overflow
-- a length computation or exhaust memory at once.
-- contained: a clean error (not enough memory) or the heap cap; never a crash.
-- args: --memory 64m --timeout 30
-- expect: exit=1|137 error="not enough memory|memory limit|string length overflow"
local a = string.rep("xy", 2^30, ",")
local b = string.rep("x", 2^31 - 1)
return #a + #b
