-- attack: os.date with strange formats and out-of-range times (libc strftime
-- and gmtime edge cases), and os.time with absurd fields.
-- contained: no crash; the run completes (exit 0).
-- expect: exit=0 error="DATE-OK"
local out = {}
for _, fmt in ipairs({ "%", "%%%", "%Ez%Oy%Q%5", "%E", "%O", "!%c", "*t", "!*t", string.rep("%c", 20000) }) do
  for _, t in ipairs({ 0, -1, 2^31, -2^31, 2^53, -2^53, 1e300 }) do
    local ok, v = pcall(os.date, fmt, t)
    out[#out + 1] = ok and type(v) or "err"
  end
end
local ok = pcall(os.time, { year = 2^53, month = 2^31, day = -2^31, hour = 1e300 })
return "DATE-OK " .. #out .. " " .. tostring(ok)
