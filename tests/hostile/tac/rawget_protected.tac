-- attack: rawget on a protected library table, to read fields past a proxy.
-- contained: rawget refuses protected tables; exit 1.
-- expect: exit=1 error="rawget: protected table"
local f = rawget(os, "execute")
return type(f)
