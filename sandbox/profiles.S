/* The seccomp profiles, built into the binary as text (see seccomp.c).  */
#define EMBED(sym, file)         \
  .global sym;                   \
  .global sym##_end;             \
  .balign 8;                     \
sym:                             \
  .incbin file;                  \
sym##_end:                       \
  .byte 0

  .section .rodata
EMBED (tr_policy_vm, "policy/seccomp/vm.policy")
EMBED (tr_policy_vm_jit, "policy/seccomp/vm-jit.policy")
EMBED (tr_policy_native, "policy/seccomp/native.policy")

  .section .note.GNU-stack, "", @progbits
