-- attack: a symlink in the workspace pointing at /etc; read etc/passwd through it.
-- contained: directory components are opened with O_NOFOLLOW; exit 1.
-- setup: symlink etc /etc
-- expect: exit=1 error="symlink"
-- forbid: root:x:0:0
-- modes: sandbox no-sandbox
return File.read("etc/passwd")
