-- attack: a symlink in the workspace pointing at a host file (flink ->
-- /etc/shadow-like secret); File.read follows it.
-- contained: the last component is opened with O_NOFOLLOW; exit 1, no secret.
-- setup: symlink flink $OUTSIDE/secret.txt
-- expect: exit=1 error="is a symlink"
-- forbid: secret [0-9]
-- modes: sandbox no-sandbox
return File.read("flink")
