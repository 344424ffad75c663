/* The Lua heap allocator.  LuaJIT on Debian is a GC64 build, so
 * lua_newstate accepts a custom allocator.  The cap makes a memory bomb end
 * the run cleanly; the sandbox's cgroup/rlimit is the hard backstop.
 *
 * Why exit instead of returning NULL: a NULL makes Lua raise "not enough
 * memory", which a script can catch with pcall and keep allocating.  A run
 * that hit its cap is over.  */
#include <stdlib.h>
#include <unistd.h>

#include "vm/internal.h"

void *
vm_alloc_fn (void *ud, void *ptr, size_t osize, size_t nsize)
{
  struct vm_alloc *a = ud;
  void *p;

  if (nsize == 0)
    {
      if (ptr)
        a->used -= osize;
      free (ptr);
      return NULL;
    }
  if (ptr == NULL)
    osize = 0;
  if (a->limit && nsize > osize && a->used + (nsize - osize) > a->limit)
    {
      vm_broker_notify_exit (a->notify_fd, "oom", "the procedure exceeded its memory limit");
      _exit (VM_EXIT_OOM);
    }
  p = realloc (ptr, nsize);
  if (p == NULL)
    return NULL;
  a->used = a->used - osize + nsize;
  if (a->used > a->peak)
    a->peak = a->used;
  return p;
}
