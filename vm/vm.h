/* The LuaJIT VM that runs a Tactus procedure, as PID 1 of the sandbox (or
 * in a plain child with --no-sandbox).  It knows the broker protocol, not
 * the sandbox: everything outside pure computation goes over the broker
 * socket, files included (the broker hands over open descriptors).  */
#ifndef TR_VM_H
#define TR_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox.h"

struct vm_config
{
  const char *source; /* the .tac text */
  size_t source_len;
  const char *chunkname; /* shown in errors: the file name as given */
  bool jit;              /* open the JIT compiler (needs the vm-jit seccomp profile) */
  uint64_t memory_limit; /* Lua heap cap in bytes (0: none) */
};

/* Exit statuses of the VM process.  */
enum
{
  VM_EXIT_OK = 0,
  VM_EXIT_FAILED = 1,
  VM_EXIT_INTERRUPTED = 130,
  VM_EXIT_OOM = 137,
};

/* Run the procedure; BROKER_FD is the VM's end of the socketpair.
 * Returns the exit status.  */
int vm_run (const struct vm_config *cfg, int broker_fd);

/* sandbox_entry_fn: ARG is a struct vm_config, unless the sandbox was
 * prepared ahead (a warm pool): then the config arrives as the payload,
 * packed with vm_config_pack.  */
int vm_entry (void *arg, const struct sandbox_inside *inside);

/* A vm_config as bytes (malloc'd) and back.  Unpacked strings point into
 * BUF, which must outlive CFG.  */
int vm_config_pack (const struct vm_config *cfg, char **buf, size_t *len);
int vm_config_unpack (const char *buf, size_t len, struct vm_config *cfg);

#endif
