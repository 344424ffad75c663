-- attack: millions of coroutines kept alive, to exhaust memory outside the
-- Lua allocator (each has a Lua stack) or the process.
-- contained: coroutine stacks come from the capped Lua heap; exit 137.
-- args: --memory 64m --timeout 30
-- expect: exit=137 error="memory limit"
-- within: 20
local keep = {}
while true do
  local co = coroutine.create(function() coroutine.yield() end)
  coroutine.resume(co)
  keep[#keep + 1] = co
end
