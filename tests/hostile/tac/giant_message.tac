-- attack: a 20 MiB log line: a giant broker message to exhaust the broker.
-- contained: the VM refuses to send more than the frame maximum (8 MiB):
-- MessageTooLarge, exit 1; the broker never sees it.
-- expect: exit=1 error="MessageTooLarge"
-- maxrss: 200
Log.info(string.rep("x", 20 * 1024 * 1024))
return "sent"
