-- attack: os.execute runs a shell command on the host.
-- contained: os holds only time, date and clock; exit 1, no marker file.
-- expect: exit=1 error="field 'execute'"
-- marker: $OUTSIDE/pwned
os.execute("touch " .. input.outside .. "/pwned")
return "executed"
