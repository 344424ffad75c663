#ifndef TR_VM_INTERNAL_H
#define TR_VM_INTERNAL_H

#include <lua.h>
#include <stdbool.h>
#include <stdint.h>

#include "vm/vm.h"

/* vm.c: a stop signal (SIGTERM/SIGINT) arrived; long waits return early.  */
bool vm_interrupted (void);

/* alloc.c: the Lua allocator with a hard cap.  Exceeding it ends the run
 * (exit 137) instead of raising a catchable Lua error.  */
struct vm_alloc
{
  size_t used;
  size_t peak;
  size_t limit;  /* 0: none */
  int notify_fd; /* broker socket, told why the run ends */
};
void *vm_alloc_fn (void *ud, void *ptr, size_t osize, size_t nsize);

/* lib_tactus.c: the C <-> Lua boundary.  Pushes the table of primitives
 * handed to the prelude (never reachable from user code as a global).  */
struct vm_runtime
{
  int broker_fd;
  uint64_t next_id;
  const struct vm_config *cfg;
  struct vm_alloc *alloc;
};
void vm_push_primitives (lua_State *L, struct vm_runtime *rt);
/* Send a request and wait for its final event; pushes the data table (or
 * raises a Lua error carrying {type=, message=}).  ON_EVENT, if not 0, is a
 * stack index of a function called with (event, data) for every
 * intermediate event (streaming).  */
int vm_broker_call (lua_State *L, struct vm_runtime *rt, const char *method, int params_idx,
                    int on_event_idx);
/* The same without Lua: send METHOD with PARAMS (an object, consumed; NULL
 * for none) and return the final reply (the caller deletes it), with the
 * file descriptor that came with it in *FD (-1: none).  NULL with errno
 * EMSGSIZE or ENOMEM when the request cannot be sent.  */
struct cJSON;
struct cJSON *vm_broker_request (struct vm_runtime *rt, const char *method, struct cJSON *params,
                                 int *fd);
/* Best effort, for dying paths: a run.finish with STATUS and MESSAGE.  */
void vm_broker_notify_exit (int fd, const char *status, const char *message);

/* json.c: Lua values <-> JSON text (cJSON).  */
int vm_json_encode (lua_State *L, int idx, bool pretty);         /* pushes the string or raises */
int vm_json_decode (lua_State *L, const char *text, size_t len); /* pushes the value or raises */
/* The value at IDX as JSON text after PREFIX (malloc'd, *LEN bytes), or
 * NULL with *WHY.  INDENT > 0 pretty-prints.  Never raises.  */
char *vm_json_encode_raw (lua_State *L, int idx, int indent, const char *prefix, size_t *len,
                          const char **why);
void vm_json_to_lua (lua_State *L, const struct cJSON *j, int depth);

/* files.c: File.* and tactus.io.*, served by the broker (fs.* methods).  */
int vm_open_library_files (lua_State *L, struct vm_runtime *rt);

/* lua.S: the built-in Lua sources.  */
const char *vm_builtin_source (const char *name, size_t *len);

#endif
