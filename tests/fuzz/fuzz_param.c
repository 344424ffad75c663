/* Fuzz the --param path end to end: cli/parse.c parse_param (KEY=VALUE
 * into a JSON object of strings, as `tactus-run run --param` does), the
 * JSON -> Lua conversion the VM applies to run.start's params (vm/json.c),
 * and the input schema's coercion and validation in Lua
 * (vm/lua/schema.lua ctx.validate_input, loaded from the source tree).
 *
 * Input: --param arguments separated by '\n' (a NUL ends an argument, as
 * in argv).  Keys the schema knows: s (string), n (number), i (integer),
 * b (boolean), a (array), o (object), e (enum red|green), d (number,
 * default 3), r (string, required).
 *
 * Invariants:
 *   - parse_param accepts exactly KEY=VALUE with a key of 1..255 bytes, and
 *     the object then holds KEY once, with VALUE;
 *   - validation either fails with an InputError table or returns values
 *     of the declared kinds: i a finite integer, n a finite number (both
 *     end up in JSON: state, results, checkpoints), b a boolean, a a list,
 *     o a table, e one of the enum, r present, d defaulted.  */
#include <cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vm/internal.h"

#ifndef TR_SOURCE_DIR
#define TR_SOURCE_DIR "."
#endif

#define CHECK(cond)                                                                                \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          fprintf (stderr, "fuzz_param: invariant failed: %s (line %d)\n", #cond, __LINE__);       \
          abort ();                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

static const char harness[]
    = "local schema_chunk, json_decode = ...\n"
      "local ctx = { G = {}, T = { json_decode = json_decode }, params = {}, names = {},\n"
      "  procedures = {}, unnamed = {}, state = {}, emit = function() end }\n"
      "schema_chunk(ctx)\n"
      "local field = ctx.G.field\n"
      "local SCHEMA = {\n"
      "  s = field.string {}, n = field.number {}, i = field.integer {}, b = field.boolean {},\n"
      "  a = field.array {}, o = field.object {}, e = field.string { enum = { 'red', 'green' } },\n"
      "  d = field.number { default = 3 }, r = field.string { required = true },\n"
      "}\n"
      "local huge, floor = math.huge, math.floor\n"
      "local function finite(v) return type(v) == 'number' and v == v and v ~= huge and v ~= -huge "
      "end\n"
      "return function(params)\n"
      "  local ok, out = pcall(ctx.validate_input, SCHEMA, params, 'input')\n"
      "  if not ok then\n"
      "    if type(out) ~= 'table' or out.type ~= 'InputError' or type(out.message) ~= 'string' "
      "then\n"
      "      return 'not an InputError: ' .. tostring(out)\n"
      "    end\n"
      "    return nil\n"
      "  end\n"
      "  if type(out.r) ~= 'string' then return 'r (required) missing' end\n"
      "  if out.d == nil then return 'd (default) missing' end\n"
      "  if out.s ~= nil and type(out.s) ~= 'string' then return 's is ' .. type(out.s) end\n"
      "  if out.n ~= nil and not finite(out.n) then return 'n is not a finite number: ' .. "
      "tostring(out.n) end\n"
      "  if out.i ~= nil and not (finite(out.i) and out.i == floor(out.i)) then\n"
      "    return 'i is not a finite integer: ' .. tostring(out.i)\n"
      "  end\n"
      "  if out.b ~= nil and type(out.b) ~= 'boolean' then return 'b is ' .. type(out.b) end\n"
      "  if out.a ~= nil and type(out.a) ~= 'table' then return 'a is ' .. type(out.a) end\n"
      "  if out.o ~= nil and type(out.o) ~= 'table' then return 'o is ' .. type(out.o) end\n"
      "  if out.e ~= nil and out.e ~= 'red' and out.e ~= 'green' then return 'e is ' .. "
      "tostring(out.e) end\n"
      "  return nil\n"
      "end\n";

static lua_State *L;
static int validate_ref;

static int
json_decode (lua_State *l)
{
  size_t len;
  const char *s = luaL_checklstring (l, 1, &len);
  return vm_json_decode (l, s, len);
}

static void
setup (void)
{
  L = luaL_newstate ();
  CHECK (L != NULL);
  luaL_openlibs (L);
  if (luaL_loadbuffer (L, harness, sizeof harness - 1, "=fuzz_param") != 0
      || luaL_loadfile (L, TR_SOURCE_DIR "/vm/lua/schema.lua") != 0)
    {
      fprintf (stderr, "fuzz_param: %s\n", lua_tostring (L, -1));
      abort ();
    }
  lua_pushcfunction (L, json_decode);
  if (lua_pcall (L, 2, 1, 0) != 0)
    {
      fprintf (stderr, "fuzz_param: %s\n", lua_tostring (L, -1));
      abort ();
    }
  validate_ref = luaL_ref (L, LUA_REGISTRYINDEX);
}

static void
check_param (cJSON *params, const char *arg, int r)
{
  const char *eq = strchr (arg, '=');
  bool valid = eq != NULL && eq != arg && (size_t) (eq - arg) < 256;
  char key[256];
  int count = 0;
  const cJSON *c;

  CHECK ((r == 0) == valid);
  if (!valid)
    return;
  memcpy (key, arg, (size_t) (eq - arg));
  key[eq - arg] = '\0';
  for (c = params->child; c; c = c->next)
    if (c->string && strcmp (c->string, key) == 0)
      {
        count++;
        CHECK (cJSON_IsString (c) && strcmp (c->valuestring, eq + 1) == 0);
      }
  CHECK (count == 1);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  cJSON *params = cJSON_CreateObject ();
  char *text, *copy = malloc (size + 1);
  size_t i = 0;

  CHECK (params && copy);
  if (L == NULL)
    setup ();
  memcpy (copy, data, size);
  copy[size] = '\0';
  while (i <= size)
    {
      char *arg = copy + i, *nl = memchr (arg, '\n', size - i);
      size_t n = nl ? (size_t) (nl - arg) : size - i;
      arg[n] = '\0';
      check_param (params, arg, parse_param (params, arg));
      i += n + 1;
    }
  free (copy);

  /* The broker sends the params in run.start: through JSON text, as then.  */
  text = cJSON_PrintUnformatted (params);
  CHECK (text != NULL);
  cJSON_Delete (params);
  params = cJSON_Parse (text);
  cJSON_free (text);
  CHECK (params != NULL);

  lua_settop (L, 0);
  lua_rawgeti (L, LUA_REGISTRYINDEX, validate_ref);
  vm_json_to_lua (L, params, 0);
  cJSON_Delete (params);
  if (lua_pcall (L, 1, 1, 0) != 0)
    {
      fprintf (stderr, "fuzz_param: the harness raised: %s\n", lua_tostring (L, -1));
      abort ();
    }
  if (lua_type (L, -1) == LUA_TSTRING)
    {
      fprintf (stderr, "fuzz_param: invariant failed: %s\n", lua_tostring (L, -1));
      abort ();
    }
  lua_settop (L, 0);
  lua_gc (L, LUA_GCSTEP, 0);
  return 0;
}
