# jsonl_query.py FILE EXPR: evaluate a Python expression over the JSON lines
# of FILE and print it (strings raw, the rest as JSON).  In EXPR:
#   ev     every line that parses, in order
#   r      the last one
#   types  their event_types
#   of(t)  the events of type t
#   NOT_TURN  the event types that are not an agent turn's
import json, sys
ev = []
for line in open(sys.argv[1], errors="replace"):
    line = line.strip()
    if line:
        try:
            ev.append(json.loads(line))
        except ValueError:
            pass
r = ev[-1] if ev else {}
types = [e.get("event_type") for e in ev if isinstance(e, dict)]
# The events that are not an agent turn's (a run's own, and logs).
NOT_TURN = {"result", "log", "execution_summary"}
def of(t):
    return [e for e in ev if isinstance(e, dict) and e.get("event_type") == t]
try:
    v = eval(sys.argv[2])
except Exception as e:
    v = "ERROR: %s: %s" % (type(e).__name__, e)
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))
