-- attack: return a cyclic table as the result, so encoding it for the
-- broker recurses forever.
-- contained: encoding is depth-bounded: EncodeError, exit 1.
-- expect: exit=1 error="EncodeError"
local t = {}
t.self = t
return t
