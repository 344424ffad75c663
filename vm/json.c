/* Lua values <-> JSON.  Used for broker messages and for Json.encode/decode.
 *
 * Encoding writes text directly from the Lua value (no intermediate tree):
 * tables with keys 1..n and nothing else become arrays, other tables become
 * objects with string keys, an empty table is an object.  Numbers are
 * written in the shortest form that reads back to the same double.
 * Nesting is bounded, which also catches cycles.
 *
 * Decoding goes through cJSON (which bounds nesting at 1000); JSON null
 * becomes nil; text after the value is an error.  */
#include <cJSON.h>
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/internal.h"

#define MAX_DEPTH 128

struct out
{
  char *buf;
  size_t len, cap;
  const char *why; /* set on failure */
  int indent;      /* spaces per level, 0: compact */
};

static bool
grow (struct out *o, size_t n)
{
  if (o->len + n + 1 <= o->cap)
    return true;
  size_t cap = o->cap ? o->cap : 256;
  while (cap < o->len + n + 1)
    cap *= 2;
  char *nb = realloc (o->buf, cap);
  if (nb == NULL)
    {
      o->why = "out of memory";
      return false;
    }
  o->buf = nb;
  o->cap = cap;
  return true;
}

static bool
put (struct out *o, const char *s, size_t n)
{
  if (!grow (o, n))
    return false;
  memcpy (o->buf + o->len, s, n);
  o->len += n;
  return true;
}

static bool
newline (struct out *o, int depth)
{
  if (o->indent == 0)
    return true;
  if (!grow (o, 1 + (size_t) (depth * o->indent)))
    return false;
  o->buf[o->len++] = '\n';
  memset (o->buf + o->len, ' ', (size_t) (depth * o->indent));
  o->len += (size_t) (depth * o->indent);
  return true;
}

/* The shortest of %.15g, %.16g, %.17g that reads back exactly.  */
static bool
put_number (struct out *o, double v)
{
  char tmp[40];
  int n = 0;

  if (!isfinite (v))
    {
      o->why = "NaN and infinity have no JSON form";
      return false;
    }
  if (v == floor (v) && fabs (v) < 1e15)
    n = snprintf (tmp, sizeof tmp, "%.0f", v);
  else
    for (int prec = 15; prec <= 17; prec++)
      {
        n = snprintf (tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod (tmp, NULL) == v)
          break;
      }
  return put (o, tmp, (size_t) n);
}

static bool
put_string (struct out *o, const char *s, size_t len)
{
  static const char hex[] = "0123456789abcdef";

  if (memchr (s, '\0', len))
    {
      o->why = "strings with NUL bytes cannot be encoded";
      return false;
    }
  if (!grow (o, len + 2))
    return false;
  o->buf[o->len++] = '"';
  for (size_t i = 0; i < len; i++)
    {
      unsigned char c = (unsigned char) s[i];
      char esc[6];
      if (c >= 0x20 && c != '"' && c != '\\')
        {
          if (!grow (o, 1))
            return false;
          o->buf[o->len++] = (char) c;
          continue;
        }
      esc[0] = '\\';
      switch (c)
        {
        case '"':
          esc[1] = '"';
          break;
        case '\\':
          esc[1] = '\\';
          break;
        case '\n':
          esc[1] = 'n';
          break;
        case '\r':
          esc[1] = 'r';
          break;
        case '\t':
          esc[1] = 't';
          break;
        case '\b':
          esc[1] = 'b';
          break;
        case '\f':
          esc[1] = 'f';
          break;
        default:
          esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
          if (!put (o, esc, 6))
            return false;
          continue;
        }
      if (!put (o, esc, 2))
        return false;
    }
  return put (o, "\"", 1);
}

/* Keys 1..n and nothing else (n > 0).  */
static bool
array_length (lua_State *L, int idx, size_t *n)
{
  size_t count = 0, max = 0;

  lua_pushnil (L);
  while (lua_next (L, idx))
    {
      lua_Number k;
      lua_pop (L, 1);
      if (lua_type (L, -1) != LUA_TNUMBER || (k = lua_tonumber (L, -1)) < 1 || k != floor (k)
          || k > 1e9)
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

static bool encode (lua_State *L, struct out *o, int idx, int depth);

static bool
encode_table (lua_State *L, struct out *o, int idx, int depth)
{
  size_t n;
  bool first = true;

  if (!lua_checkstack (L, 4))
    {
      o->why = "nesting too deep";
      return false;
    }
  if (array_length (L, idx, &n))
    {
      if (!put (o, "[", 1))
        return false;
      for (size_t i = 1; i <= n; i++)
        {
          bool ok;
          if ((i > 1 && !put (o, ",", 1)) || !newline (o, depth + 1))
            return false;
          lua_rawgeti (L, idx, (int) i);
          ok = encode (L, o, lua_gettop (L), depth + 1);
          lua_pop (L, 1);
          if (!ok)
            return false;
        }
      return newline (o, depth) && put (o, "]", 1);
    }
  if (!put (o, "{", 1))
    return false;
  lua_pushnil (L);
  while (lua_next (L, idx))
    {
      char keybuf[64];
      const char *key;
      size_t klen;
      bool ok;
      if (lua_type (L, -2) == LUA_TSTRING)
        key = lua_tolstring (L, -2, &klen);
      else if (lua_type (L, -2) == LUA_TNUMBER)
        {
          klen = (size_t) snprintf (keybuf, sizeof keybuf, "%.14g", lua_tonumber (L, -2));
          key = keybuf;
        }
      else
        {
          lua_pop (L, 2);
          o->why = "table keys must be strings or numbers";
          return false;
        }
      ok = (first || put (o, ",", 1)) && newline (o, depth + 1) && put_string (o, key, klen)
           && put (o, o->indent ? ": " : ":", o->indent ? 2 : 1)
           && encode (L, o, lua_gettop (L), depth + 1);
      lua_pop (L, 1);
      if (!ok)
        {
          lua_pop (L, 1);
          return false;
        }
      first = false;
    }
  return (first || newline (o, depth)) && put (o, "}", 1);
}

static bool
encode (lua_State *L, struct out *o, int idx, int depth)
{
  if (depth > MAX_DEPTH)
    {
      o->why = "nesting too deep (or a cycle)";
      return false;
    }
  switch (lua_type (L, idx))
    {
    case LUA_TNIL:
      return put (o, "null", 4);
    case LUA_TBOOLEAN:
      return lua_toboolean (L, idx) ? put (o, "true", 4) : put (o, "false", 5);
    case LUA_TNUMBER:
      return put_number (o, lua_tonumber (L, idx));
    case LUA_TSTRING:
      {
        size_t len;
        const char *s = lua_tolstring (L, idx, &len);
        return put_string (o, s, len);
      }
    case LUA_TTABLE:
      return encode_table (L, o, idx, depth);
    default:
      o->why = "functions, userdata and threads cannot be encoded";
      return false;
    }
}

char *
vm_json_encode_raw (lua_State *L, int idx, int indent, const char *prefix, size_t *len,
                    const char **why)
{
  struct out o = { .indent = indent };

  if (idx < 0)
    idx = lua_gettop (L) + idx + 1;
  if ((prefix && !put (&o, prefix, strlen (prefix))) || !encode (L, &o, idx, 0))
    {
      free (o.buf);
      *why = o.why ? o.why : "cannot encode";
      return NULL;
    }
  o.buf[o.len] = '\0';
  *len = o.len;
  return o.buf;
}

int
vm_json_encode (lua_State *L, int idx, bool pretty)
{
  const char *why;
  size_t len;
  char *s = vm_json_encode_raw (L, idx, pretty ? 2 : 0, NULL, &len, &why);

  if (s == NULL)
    return luaL_error (L, "Json.encode: %s", why);
  lua_pushlstring (L, s, len);
  free (s);
  return 1;
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
vm_json_decode (lua_State *L, const char *text, size_t len)
{
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts (text, len, &end, 0);

  if (j != NULL && end)
    {
      while (end < text + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
      if (end != text + len)
        {
          cJSON_Delete (j);
          return luaL_error (L, "Json.decode: unexpected text after the value at byte %d",
                             (int) (end - text));
        }
    }
  if (j == NULL)
    {
      size_t at = end && end >= text ? (size_t) (end - text) : 0;
      return luaL_error (L, "Json.decode: invalid JSON near byte %d", (int) at);
    }
  vm_json_to_lua (L, j, 0);
  cJSON_Delete (j);
  return 1;
}
