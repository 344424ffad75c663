-- attack: File.append through a symlink to a host file (victim.txt outside).
-- contained: O_NOFOLLOW; exit 1, the victim is unchanged (checked by checksum).
-- setup: symlink vlink $OUTSIDE/victim.txt
-- expect: exit=1 error="is a symlink"
-- modes: sandbox no-sandbox
File.append("vlink", "escaped")
return "appended"
