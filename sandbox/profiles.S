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
EMBED (tr_policy_native_nounix, "policy/seccomp/native-nounix.policy")
EMBED (tr_policy_supervise_create, "policy/seccomp/supervise-create.policy")
EMBED (tr_policy_supervise_connect, "policy/seccomp/supervise-connect.policy")

  .section .note.GNU-stack, "", @progbits
