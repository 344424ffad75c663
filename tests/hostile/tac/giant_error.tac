-- attack: a 20 MiB error message, so that reporting the failure (run.finish
-- with the message and a traceback) itself fails or floods the broker.
-- contained: the report is replaced by a short EncodeError; exit 1.
-- expect: exit=1 error="EncodeError|MessageTooLarge|Message too long"
-- maxrss: 200
error(string.rep("x", 20 * 1024 * 1024))
