-- attack: os.getenv reads environment variables (API keys) of the process.
-- contained: os.getenv does not exist; exit 1.
-- expect: exit=1 error="field 'getenv'"
return os.getenv("OPENAI_API_KEY") or os.getenv("HOME")
