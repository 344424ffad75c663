-- attack: os.remove / os.rename delete or move host files.
-- contained: they do not exist; exit 1, the victim file outside still exists.
-- expect: exit=1 error="field 'remove'"
os.remove(input.outside .. "/victim.txt")
return "removed"
