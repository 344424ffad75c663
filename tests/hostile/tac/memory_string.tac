-- attack: a memory bomb by doubling a string.
-- contained: the heap cap; exit 137.
-- args: --memory 64m --timeout 30
-- expect: exit=137 error="memory limit"
-- within: 20
local s = "x"
while true do s = s .. s end
