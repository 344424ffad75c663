#include <string.h>

#include "vm/internal.h"

#define BUILTIN(name) extern const char tr_lua_##name[], tr_lua_##name##_end[];
BUILTIN (prelude)
BUILTIN (schema)
BUILTIN (runtime)
BUILTIN (tools)
BUILTIN (modules)
BUILTIN (agent)
BUILTIN (spec)

static const struct
{
  const char *name;
  const char *start, *end;
} builtins[] = {
  { "prelude", tr_lua_prelude, tr_lua_prelude_end }, { "schema", tr_lua_schema, tr_lua_schema_end },
  { "runtime", tr_lua_runtime, tr_lua_runtime_end }, { "tools", tr_lua_tools, tr_lua_tools_end },
  { "modules", tr_lua_modules, tr_lua_modules_end }, { "agent", tr_lua_agent, tr_lua_agent_end },
  { "spec", tr_lua_spec, tr_lua_spec_end },
};

const char *
vm_builtin_source (const char *name, size_t *len)
{
  for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
    if (strcmp (builtins[i].name, name) == 0)
      {
        *len = (size_t) (builtins[i].end - builtins[i].start);
        return builtins[i].start;
      }
  return NULL;
}
