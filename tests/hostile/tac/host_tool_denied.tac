-- attack: call a host tool the policy does not list (no policy at all).
-- contained: the broker denies by default: ToolNotAllowed, exit 1.
-- expect: exit=1 error="ToolNotAllowed"
return Host.call("host.ping", { hello = "world" })
