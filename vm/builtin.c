#include <string.h>

#include "vm/internal.h"

/* Every Lua file of vm/lua, compiled to bytecode: the index the build generates
 * (Makefile, lua_bc.S), ending in a row whose name is NULL.  */
struct builtin_module
{
  const char *name;
  const char *start, *end;
};
extern const struct builtin_module tr_lua_index[];

const char *
vm_builtin_source (const char *name, size_t *len)
{
  for (const struct builtin_module *m = tr_lua_index; m->name; m++)
    if (strcmp (m->name, name) == 0)
      {
        *len = (size_t) (m->end - m->start);
        return m->start;
      }
  return NULL;
}
