-- The trivial procedure the cold-start benchmark runs.
return { ok = true }
