/* Lua values <-> JSON, through cJSON.  Used for broker messages and for
 * Json.encode/decode.  Tables with keys 1..n (and nothing else) become
 * arrays; other tables become objects with string keys; an empty table is
 * an object.  Nesting is bounded, which also catches cycles.  JSON null
 * decodes to nil.  */
#include <cJSON.h>
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vm/internal.h"

#define MAX_DEPTH 128

static bool
table_is_array (lua_State *L, int idx, size_t *n)
{
  size_t count = 0, max = 0;

  lua_pushnil (L);
  while (lua_next (L, idx))
    {
      lua_Number k;
      lua_pop (L, 1);
      if (lua_type (L, -1) != LUA_TNUMBER)
        {
          lua_pop (L, 1);
          return false;
        }
      k = lua_tonumber (L, -1);
      if (k < 1 || k != floor (k) || k > 1e9)
        {
          lua_pop (L, 1);
          return false;
        }
      if ((size_t) k > max)
        max = (size_t) k;
      count++;
    }
  *n = count;
  return count > 0 && max == count;
}

cJSON *
vm_lua_to_json (lua_State *L, int idx, int depth, const char **why)
{
  if (idx < 0)
    idx = lua_gettop (L) + idx + 1;
  if (depth > MAX_DEPTH)
    {
      *why = "nesting too deep (or a cycle)";
      return NULL;
    }
  switch (lua_type (L, idx))
    {
    case LUA_TNIL:
      return cJSON_CreateNull ();
    case LUA_TBOOLEAN:
      return cJSON_CreateBool (lua_toboolean (L, idx));
    case LUA_TNUMBER:
      {
        lua_Number v = lua_tonumber (L, idx);
        if (!isfinite (v))
          {
            *why = "NaN and infinity have no JSON form";
            return NULL;
          }
        return cJSON_CreateNumber (v);
      }
    case LUA_TSTRING:
      {
        size_t len;
        const char *s = lua_tolstring (L, idx, &len);
        if (memchr (s, '\0', len))
          {
            *why = "strings with NUL bytes cannot be encoded";
            return NULL;
          }
        return cJSON_CreateString (s);
      }
    case LUA_TTABLE:
      {
        size_t n;
        cJSON *out;
        luaL_checkstack (L, 4, "json");
        if (table_is_array (L, idx, &n))
          {
            out = cJSON_CreateArray ();
            for (size_t i = 1; out && i <= n; i++)
              {
                cJSON *item;
                lua_rawgeti (L, idx, (int) i);
                item = vm_lua_to_json (L, -1, depth + 1, why);
                lua_pop (L, 1);
                if (item == NULL)
                  {
                    cJSON_Delete (out);
                    return NULL;
                  }
                cJSON_AddItemToArray (out, item);
              }
            return out;
          }
        out = cJSON_CreateObject ();
        lua_pushnil (L);
        while (out && lua_next (L, idx))
          {
            char keybuf[64];
            const char *key;
            cJSON *item;
            if (lua_type (L, -2) == LUA_TSTRING)
              key = lua_tostring (L, -2);
            else if (lua_type (L, -2) == LUA_TNUMBER)
              {
                snprintf (keybuf, sizeof keybuf, "%.14g", lua_tonumber (L, -2));
                key = keybuf;
              }
            else
              {
                *why = "table keys must be strings or numbers";
                lua_pop (L, 2);
                cJSON_Delete (out);
                return NULL;
              }
            item = vm_lua_to_json (L, -1, depth + 1, why);
            lua_pop (L, 1);
            if (item == NULL)
              {
                lua_pop (L, 1);
                cJSON_Delete (out);
                return NULL;
              }
            cJSON_AddItemToObject (out, key, item);
          }
        return out;
      }
    default:
      *why = "functions, userdata and threads cannot be encoded";
      return NULL;
    }
}

void
vm_json_to_lua (lua_State *L, const cJSON *j, int depth)
{
  /* cJSON already refused documents nested deeper than CJSON_NESTING_LIMIT
   * (1000), so the recursion here is bounded.  */
  luaL_checkstack (L, 4, "json");
  if (cJSON_IsNull (j) || j == NULL)
    lua_pushnil (L);
  else if (cJSON_IsBool (j))
    lua_pushboolean (L, cJSON_IsTrue (j));
  else if (cJSON_IsNumber (j))
    lua_pushnumber (L, j->valuedouble);
  else if (cJSON_IsString (j))
    lua_pushstring (L, j->valuestring);
  else if (cJSON_IsArray (j))
    {
      int i = 1;
      lua_createtable (L, cJSON_GetArraySize (j), 0);
      for (const cJSON *c = j->child; c; c = c->next, i++)
        {
          vm_json_to_lua (L, c, depth + 1);
          lua_rawseti (L, -2, i);
        }
    }
  else
    {
      lua_newtable (L);
      for (const cJSON *c = j->child; c; c = c->next)
        {
          if (c->string == NULL)
            continue;
          vm_json_to_lua (L, c, depth + 1);
          lua_setfield (L, -2, c->string);
        }
    }
}

int
vm_json_encode (lua_State *L, int idx, bool pretty)
{
  const char *why = "cannot encode";
  cJSON *j = vm_lua_to_json (L, idx, 0, &why);
  char *s;

  if (j == NULL)
    return luaL_error (L, "Json.encode: %s", why);
  s = pretty ? cJSON_Print (j) : cJSON_PrintUnformatted (j);
  cJSON_Delete (j);
  if (s == NULL)
    return luaL_error (L, "Json.encode: out of memory");
  lua_pushstring (L, s);
  cJSON_free (s);
  return 1;
}

int
vm_json_decode (lua_State *L, const char *text, size_t len)
{
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts (text, len, &end, 0);

  if (j == NULL)
    {
      size_t at = end && end >= text ? (size_t) (end - text) : 0;
      return luaL_error (L, "Json.decode: invalid JSON near byte %d", (int) at);
    }
  vm_json_to_lua (L, j, 0);
  cJSON_Delete (j);
  return 1;
}
