/* Fuzz the VM's JSON path (vm/json.c): Json.decode of untrusted text, and
 * the Lua -> JSON encoder the VM uses for every broker request.
 *
 * Input: byte 0 picks options (bit 0: pretty printing), the rest is the
 * JSON text (any bytes, NULs included: Json.decode takes a Lua string).
 *
 *   decode(text) -> t1          may fail (a Lua error), never crash
 *   encode(t1)   -> j1          may fail (inf, nesting), never crash
 *   decode(j1)   -> t2          must succeed: the encoder's output is JSON
 *   encode(t2)   -> j2          must succeed, and j2 must equal j1 as JSON
 *                               (cJSON_Compare: key order may differ)
 *   decode(j2)   -> t3          must equal t2 exactly (t2 is already in the
 *                               encoder's normal form: numbers must read
 *                               back to the same double, strings the same bytes)
 *
 * The Lua state is a plain luaL_newstate with the base library (the VM's
 * allocator cap is not what is tested here).  */
#include <cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/internal.h"

#define CHECK(cond)                                                                                \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          fprintf (stderr, "fuzz_json: invariant failed: %s (line %d)\n", #cond, __LINE__);        \
          abort ();                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

static lua_State *L;
static int equal_ref;

static const char deep_equal[]
    = "local function eq(a, b)\n"
      "  if type(a) ~= 'table' or type(b) ~= 'table' then return a == b end\n"
      "  for k, v in pairs(a) do if not eq(v, b[k]) then return false end end\n"
      "  for k in pairs(b) do if a[k] == nil then return false end end\n"
      "  return true\n"
      "end\n"
      "return eq\n";

static int
do_decode (lua_State *l)
{
  size_t len;
  const char *s = lua_tolstring (l, 1, &len);
  return vm_json_decode (l, s, len);
}

static int
do_encode (lua_State *l)
{
  return vm_json_encode (l, 1, lua_toboolean (l, 2));
}

/* Run FN(arg, pretty) protected; leaves the result on the stack and returns
 * 1, or pops the error and returns 0.  */
static int
call (lua_CFunction fn, int arg, int pretty)
{
  int top = lua_gettop (L);

  lua_pushcfunction (L, fn);
  lua_pushvalue (L, arg);
  lua_pushboolean (L, pretty);
  if (lua_pcall (L, 2, 1, 0) != 0)
    {
      CHECK (lua_type (L, -1) == LUA_TSTRING); /* luaL_error, never anything else */
      lua_settop (L, top);
      return 0;
    }
  return 1;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  int pretty;
  size_t l1, l2;
  const char *j1, *j2;
  cJSON *c1, *c2;

  if (size < 1)
    return 0;
  if (L == NULL)
    {
      L = luaL_newstate ();
      CHECK (L != NULL);
      luaL_openlibs (L);
      CHECK (luaL_loadbuffer (L, deep_equal, sizeof deep_equal - 1, "=eq") == 0);
      CHECK (lua_pcall (L, 0, 1, 0) == 0);
      equal_ref = luaL_ref (L, LUA_REGISTRYINDEX);
    }
  pretty = data[0] & 1;
  lua_settop (L, 0);
  lua_pushlstring (L, (const char *) data + 1, size - 1); /* 1: text */
  if (!call (do_decode, 1, 0))                            /* 2: t1 */
    goto out;
  if (!call (do_encode, 2, pretty)) /* 3: j1 */
    goto out;
  CHECK (lua_type (L, 3) == LUA_TSTRING);
  CHECK (call (do_decode, 3, 0));      /* 4: t2 */
  CHECK (call (do_encode, 4, pretty)); /* 5: j2 */
  j1 = lua_tolstring (L, 3, &l1);
  j2 = lua_tolstring (L, 5, &l2);
  CHECK (strlen (j1) == l1 && strlen (j2) == l2);
  c1 = cJSON_ParseWithLength (j1, l1);
  c2 = cJSON_ParseWithLength (j2, l2);
  CHECK (c1 != NULL && c2 != NULL);
  CHECK (cJSON_Compare (c1, c2, 1));
  cJSON_Delete (c1);
  cJSON_Delete (c2);
  CHECK (call (do_decode, 5, 0)); /* 6: t3 */
  lua_rawgeti (L, LUA_REGISTRYINDEX, equal_ref);
  lua_pushvalue (L, 4);
  lua_pushvalue (L, 6);
  CHECK (lua_pcall (L, 2, 1, 0) == 0);
  CHECK (lua_toboolean (L, -1));
out:
  lua_settop (L, 0);
  lua_gc (L, LUA_GCSTEP, 0);
  return 0;
}
