-- attack: os.exit(0) ends the process early with "success", skipping the
-- broker's accounting (and, outside a sandbox, kills the host).
-- contained: os.exit does not exist; the run fails with exit 1, not 0.
-- expect: exit=1 error="field 'exit'"
os.exit(0)
