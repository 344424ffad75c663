-- attack: a pathological pattern in string.find: backtracking runs inside C,
-- where no Lua hook ever fires.
-- contained: the deadline kills the cage; exit 124.
-- args: --timeout 2
-- expect: exit=124 error="deadline"
-- within: 8
local s = string.rep("a", 60)
return string.find(s, string.rep("a*", 20) .. "b")
