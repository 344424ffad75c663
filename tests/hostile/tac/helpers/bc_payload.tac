-- The payload the bytecode tests compile: if it ever runs, the output says so.
Log.info("BYTECODE-RAN")
return "BYTECODE-RAN"
