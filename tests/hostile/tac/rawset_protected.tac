-- attack: rawset on a library table (bypassing any proxy) to replace
-- string.format for code that shares the table.
-- contained: rawset refuses the protected library tables; exit 1.
-- expect: exit=1 error="rawset: protected table"
rawset(string, "format", function() return "hijacked" end)
return string.format("%d", 1)
