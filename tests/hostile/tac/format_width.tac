-- attack: string.format with a gigantic width or precision, to overflow a
-- C buffer in the formatter.
-- contained: refused as an invalid format; exit 1.
-- expect: exit=1 error="invalid option|invalid format"
return string.format("%99999999999d", 1) .. string.format("%.99999999f", 1)
