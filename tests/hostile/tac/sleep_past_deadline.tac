-- attack: sleep for 300 days to hold the cage (and its resources) forever.
-- contained: the deadline ends it; exit 124.
-- args: --timeout 2
-- expect: exit=124 error="deadline"
-- within: 8
Sleep(86400 * 300)
return "woke"
