/* The built-in Lua sources of the VM (vm/lua/), embedded as text and
 * looked up by name in builtin.c.  */
#define EMBED(sym, file)         \
  .global sym;                   \
  .global sym##_end;             \
  .balign 8;                     \
sym:                             \
  .incbin file;                  \
sym##_end:                       \
  .byte 0

  .section .rodata
EMBED (tr_lua_prelude, "vm/lua/prelude.lua")
EMBED (tr_lua_schema, "vm/lua/schema.lua")
EMBED (tr_lua_runtime, "vm/lua/runtime.lua")
EMBED (tr_lua_tools, "vm/lua/tools.lua")
EMBED (tr_lua_modules, "vm/lua/modules.lua")
EMBED (tr_lua_agent, "vm/lua/agent.lua")
EMBED (tr_lua_spec, "vm/lua/spec.lua")

  .section .note.GNU-stack, "", @progbits
