-- Broker round trips seen from Lua: N Host.call("host.echo") with a small
-- payload (bench/roundtrip.tac.yml allows host.echo).  The benchmark runs it
-- with n=0 and n=N and divides the difference.
input { n = field.integer { default = 10000 } }
for i = 1, input.n do Host.call("host.echo", { i = i }) end
return { calls = input.n }
