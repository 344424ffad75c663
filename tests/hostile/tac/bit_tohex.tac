-- attack: bit.tohex(65535, -2147483648): negating INT32_MIN overflowed a stack
-- buffer in Lua BitOp (Redis CVE-2024-31449).
-- contained: LuaJIT's own bit library handles it; the run completes (exit 0)
-- and prints the results.
-- expect: exit=0 error="TOHEX-OK"
local r = {}
for _, n in ipairs({ -2147483648, 2147483647, -8, 8, 0, -1, 2^53, -2^53 }) do
  r[#r + 1] = bit.tohex(65535, n)
  r[#r + 1] = bit.tohex(-1, n)
end
return "TOHEX-OK " .. table.concat(r, ",")
