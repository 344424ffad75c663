-- attack: Log.info(obj) where obj's __tostring loops forever: the loop runs
-- in the procedure's own time.
-- contained: the deadline; exit 124.
-- args: --timeout 2
-- expect: exit=124 error="deadline"
-- within: 8
Log.info(setmetatable({}, { __tostring = function() while true do end end }))
return "logged"
