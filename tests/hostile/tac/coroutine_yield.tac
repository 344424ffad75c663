-- attack: yield across pcall inside a coroutine (allowed in LuaJIT), then
-- yield from the main chunk to jump out of the prelude's control flow.
-- contained: the coroutine case works as Lua defines it; the top-level yield
-- is an error ("attempt to yield ..."); exit 1.
-- expect: exit=1 error="attempt to yield"
local co = coroutine.wrap(function()
  local ok, v = pcall(coroutine.yield, "inside")
  assert(ok and v == "resumed")
  return "done"
end)
assert(co() == "inside")
assert(co("resumed") == "done")
coroutine.yield("out of the prelude")
return "escaped"
