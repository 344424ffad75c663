-- attack: collectgarbage("stop") (or setpause/setstepmul) turns the GC off
-- so memory grows unchecked, or forces a GC at an attacker-chosen moment.
-- contained: only count, collect and step are accepted; exit 1.
-- expect: exit=1 error="option 'stop' is not available"
collectgarbage("stop")
return "gc stopped"
