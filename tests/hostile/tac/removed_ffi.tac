-- attack: the FFI calls any libc function (ffi.C.system) and casts pointers.
-- contained: ffi is not a global; exit 1, no marker file.
-- expect: exit=1 error="unknown global 'ffi'"
-- marker: $OUTSIDE/pwned
ffi.cdef("int system(const char *);")
ffi.C.system("touch " .. input.outside .. "/pwned")
return "ffi"
