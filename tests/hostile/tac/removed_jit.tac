-- attack: jit.util exposes bytecode, IR and machine-code addresses;
-- jit.attach / jit.opt change the compiler under the sandbox.
-- contained: jit is not a global (the compiler is on, the library is not); exit 1.
-- expect: exit=1 error="unknown global 'jit'"
return jit.util.funcinfo(print).addr
