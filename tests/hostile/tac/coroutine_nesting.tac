-- attack: infinitely nested coroutine resumes: each resume takes C stack
-- and LuaJIT cannot bound it (LuaJIT#619): the VM used to die of SIGSEGV.
-- contained: the VM's SIGSEGV handler (on an alternate stack) reports a
-- C stack overflow; exit 1 with a clear error.
-- expect: exit=1 error="C stack overflow"
-- sanitized: skip ASan's own SIGSEGV handling takes over a C stack overflow
local function f() return coroutine.wrap(f)() end
return f()
