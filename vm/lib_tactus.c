/* The C <-> Lua boundary of the VM, in one place (as LuaJIT's lib_*.c).
 *
 * vm_push_primitives builds the table of primitives that the built-in
 * prelude (vm/lua/prelude.lua) receives as its argument.  User code never
 * sees this table: the prelude keeps it in an upvalue and exposes only the
 * Tactus globals built on top of it.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/frame.h"
#include "vm/internal.h"

static struct vm_runtime *
runtime (lua_State *L)
{
  return lua_touserdata (L, lua_upvalueindex (1));
}

/* Raise a Lua error whose value is {type=TYPE, message=MSG}.  */
static int
raise_typed (lua_State *L, const char *type, const char *msg)
{
  lua_createtable (L, 0, 2);
  lua_pushstring (L, type);
  lua_setfield (L, -2, "type");
  lua_pushstring (L, msg);
  lua_setfield (L, -2, "message");
  return lua_error (L);
}

void
vm_broker_notify_exit (int fd, const char *status, const char *message)
{
  char buf[512];
  struct tr_error err;
  int n;

  if (fd < 0)
    return;
  /* No allocation: this runs when the heap cap was hit.  */
  n = snprintf (buf, sizeof buf,
                "{\"id\":0,\"method\":\"run.finish\",\"params\":{\"status\":\"%s\","
                "\"error\":{\"type\":\"%s\",\"message\":\"%s\"}}}",
                status, status, message);
  if (n > 0 && (size_t) n < sizeof buf)
    frame_send (fd, buf, (size_t) n, &err);
}

/* {"id":ID,"method":"METHOD","params":PARAMS}, written directly; ID 0 is
 * a notification, {"method":"METHOD","params":PARAMS}, which the broker
 * never answers (docs/protocol.md).  */
static char *
encode_request (lua_State *L, uint64_t id, const char *method, int params_idx, size_t *len)
{
  char prefix[160];
  const char *why = "cannot encode";
  char *text;

  if (strlen (method) > 64 || strspn (method, "abcdefghijklmnopqrstuvwxyz._") != strlen (method))
    {
      luaL_error (L, "broker request: bad method name");
      return NULL;
    }
  if (id == 0)
    snprintf (prefix, sizeof prefix, "{\"method\":\"%s\",\"params\":", method);
  else
    snprintf (prefix, sizeof prefix,
              "{\"id\":%llu,\"method\":\"%s\",\"params\":", (unsigned long long) id, method);
  if (params_idx == 0 || lua_isnoneornil (L, params_idx))
    {
      lua_newtable (L);
      params_idx = lua_gettop (L);
    }
  text = vm_json_encode_raw (L, params_idx, 0, prefix, len, &why);
  if (text == NULL)
    {
      luaL_error (L, "broker request %s: params: %s", method, why);
      return NULL;
    }
  /* encode_raw left room for the terminator; close the object.  */
  {
    char *nt = realloc (text, *len + 2);
    if (nt == NULL)
      {
        free (text);
        luaL_error (L, "broker request %s: out of memory", method);
        return NULL;
      }
    text = nt;
    text[(*len)++] = '}';
    text[*len] = '\0';
  }
  return text;
}

/* Read replies until the final one for ID.  Returns the parsed reply, and
 * in *FD (when FD is not NULL) the descriptor that came with it, or -1.  */
static cJSON *
await_reply (lua_State *L, struct vm_runtime *rt, uint64_t id, int on_event_idx, int *fd)
{
  struct frame_asm a = { .accept_fd = true };
  struct tr_error err;

  if (fd)
    *fd = -1;
  for (;;)
    {
      cJSON *reply, *rid, *event;
      int r = frame_recv (rt->broker_fd, &a, &err);

      if (r < 0 && err.errnum == 0)
        continue; /* a malformed packet: not a reply */
      if (r <= 0)
        {
          frame_asm_free (&a);
          /* Without the broker nothing can be reported; the run is over.  */
          _exit (VM_EXIT_FAILED);
        }
      reply = cJSON_ParseWithLength (a.buf, a.len);
      rid = reply ? cJSON_GetObjectItemCaseSensitive (reply, "id") : NULL;
      event = reply ? cJSON_GetObjectItemCaseSensitive (reply, "event") : NULL;
      if (!cJSON_IsNumber (rid) || (uint64_t) rid->valuedouble != id || !cJSON_IsString (event))
        {
          frame_asm_reset (&a);
          cJSON_Delete (reply);
          continue; /* a reply to something else, or noise: not ours */
        }
      if (strcmp (event->valuestring, "done") == 0 || strcmp (event->valuestring, "error") == 0)
        {
          if (fd)
            *fd = frame_asm_take_fd (&a);
          frame_asm_free (&a);
          return reply;
        }
      frame_asm_reset (&a);
      if (on_event_idx)
        {
          lua_pushvalue (L, on_event_idx);
          lua_pushstring (L, event->valuestring);
          vm_json_to_lua (L, cJSON_GetObjectItemCaseSensitive (reply, "data"), 0);
          cJSON_Delete (reply);
          lua_call (L, 2, 0);
        }
      else
        cJSON_Delete (reply);
    }
}

cJSON *
vm_broker_request (struct vm_runtime *rt, const char *method, cJSON *params, int *fd)
{
  uint64_t id = ++rt->next_id;
  cJSON *req = cJSON_CreateObject ();
  struct tr_error err;
  char *text;
  int r;

  *fd = -1;
  cJSON_AddNumberToObject (req, "id", (double) id);
  cJSON_AddStringToObject (req, "method", method);
  cJSON_AddItemToObject (req, "params", params ? params : cJSON_CreateObject ());
  text = cJSON_PrintUnformatted (req);
  cJSON_Delete (req);
  if (text == NULL)
    {
      errno = ENOMEM;
      return NULL;
    }
  r = frame_send (rt->broker_fd, text, strlen (text), &err);
  free (text);
  if (r < 0)
    {
      if (err.errnum == EMSGSIZE)
        {
          errno = EMSGSIZE;
          return NULL;
        }
      _exit (VM_EXIT_FAILED);
    }
  return await_reply (NULL, rt, id, 0, fd);
}

int
vm_broker_call (lua_State *L, struct vm_runtime *rt, const char *method, int params_idx,
                int on_event_idx)
{
  uint64_t id = ++rt->next_id;
  size_t len;
  char *text = encode_request (L, id, method, params_idx, &len);
  struct tr_error err;
  cJSON *reply, *ev;

  if (frame_send (rt->broker_fd, text, len, &err) < 0)
    {
      free (text);
      if (err.errnum == EMSGSIZE)
        return raise_typed (L, "MessageTooLarge", err.msg);
      _exit (VM_EXIT_FAILED);
    }
  free (text);
  reply = await_reply (L, rt, id, on_event_idx, NULL);
  ev = cJSON_GetObjectItemCaseSensitive (reply, "event");
  if (strcmp (ev->valuestring, "error") == 0)
    {
      cJSON *e = cJSON_GetObjectItemCaseSensitive (reply, "error");
      cJSON *type = cJSON_GetObjectItemCaseSensitive (e, "type");
      cJSON *msg = cJSON_GetObjectItemCaseSensitive (e, "message");
      lua_createtable (L, 0, 2);
      lua_pushstring (L, cJSON_IsString (type) ? type->valuestring : "BrokerError");
      lua_setfield (L, -2, "type");
      lua_pushstring (L,
                      cJSON_IsString (msg) ? msg->valuestring : "the broker refused the request");
      lua_setfield (L, -2, "message");
      cJSON_Delete (reply);
      return lua_error (L);
    }
  vm_json_to_lua (L, cJSON_GetObjectItemCaseSensitive (reply, "data"), 0);
  cJSON_Delete (reply);
  return 1;
}

/* T.call(method, params [, on_event]) */
static int
l_call (lua_State *L)
{
  const char *method = luaL_checkstring (L, 1);
  int on_event = lua_isfunction (L, 3) ? 3 : 0;

  if (!lua_isnoneornil (L, 2))
    luaL_checktype (L, 2, LUA_TTABLE);
  return vm_broker_call (L, runtime (L), method, lua_isnoneornil (L, 2) ? 0 : 2, on_event);
}

/* T.notify(method, params): a one-way message (events.emit, run.finish).
 * Nothing is awaited: the VM goes on at once, and the socket is the flow
 * control (a send blocks while the broker has not read what came before,
 * once the socket's buffer is full).  */
static int
l_notify (lua_State *L)
{
  struct vm_runtime *rt = runtime (L);
  const char *method = luaL_checkstring (L, 1);
  size_t len;
  char *text;
  struct tr_error err;

  if (strcmp (method, "events.emit") != 0 && strcmp (method, "run.finish") != 0)
    return luaL_error (L, "broker notification: only events.emit and run.finish are one-way");
  luaL_checktype (L, 2, LUA_TTABLE);
  text = encode_request (L, 0, method, 2, &len);
  if (frame_send (rt->broker_fd, text, len, &err) < 0)
    {
      free (text);
      if (err.errnum == EMSGSIZE)
        return raise_typed (L, "MessageTooLarge", err.msg);
      _exit (VM_EXIT_FAILED);
    }
  free (text);
  return 0;
}

static int
l_json_encode (lua_State *L)
{
  luaL_checkany (L, 1);
  return vm_json_encode (L, 1, lua_toboolean (L, 2));
}

static int
l_json_decode (lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring (L, 1, &len);
  return vm_json_decode (L, s, len);
}

static int
l_now (lua_State *L)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  lua_pushnumber (L, (lua_Number) ts.tv_sec + (lua_Number) ts.tv_nsec / 1e9);
  return 1;
}

static int
l_monotonic (lua_State *L)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  lua_pushnumber (L, (lua_Number) ts.tv_sec + (lua_Number) ts.tv_nsec / 1e9);
  return 1;
}

static int
l_sleep (lua_State *L)
{
  lua_Number s = luaL_checknumber (L, 1);
  struct timespec ts;

  if (!(s >= 0) || s > 86400 * 365)
    return luaL_error (L, "Sleep: seconds must be between 0 and a year");
  ts.tv_sec = (time_t) s;
  ts.tv_nsec = (long) ((s - floor (s)) * 1e9);
  /* A stop signal ends the sleep; the stop hook then ends the run.  */
  while (nanosleep (&ts, &ts) < 0 && errno == EINTR && !vm_interrupted ())
    ;
  return 0;
}

/* T.where() -> source, line of the innermost frame of the user's code (a
 * chunk loaded from a file, "@name"), for checkpoints and HITL context.  */
static int
l_where (lua_State *L)
{
  lua_Debug ar;

  for (int level = 1; lua_getstack (L, level, &ar); level++)
    if (lua_getinfo (L, "Sl", &ar) && ar.source[0] == '@' && ar.currentline > 0)
      {
        lua_pushstring (L, ar.source + 1);
        lua_pushinteger (L, ar.currentline);
        return 2;
      }
  return 0;
}

/* T.raised_by_user() -> whether the error being handled was raised by the
 * user's code itself (error(...) in a .tac chunk) rather than inside a
 * primitive.  Called from an xpcall handler: level 1 is the handler; C
 * frames (error, T.call) are skipped; the first Lua frame above decides.  */
static int
l_raised_by_user (lua_State *L)
{
  lua_Debug ar;

  for (int level = 2; lua_getstack (L, level, &ar); level++)
    if (lua_getinfo (L, "S", &ar) && strcmp (ar.what, "C") != 0)
      {
        lua_pushboolean (L, ar.source[0] == '@');
        return 1;
      }
  lua_pushboolean (L, 0);
  return 1;
}

static int
l_traceback (lua_State *L)
{
  const char *msg = lua_isstring (L, 1) ? lua_tostring (L, 1) : NULL;
  luaL_traceback (L, L, msg, (int) luaL_optinteger (L, 2, 1));
  return 1;
}

/* T.load(source, chunkname, env): compile Lua SOURCE text.  Bytecode is
 * refused: LuaJIT has no bytecode verifier.  */
static int
l_load (lua_State *L)
{
  size_t len;
  const char *src = luaL_checklstring (L, 1, &len);
  const char *name = luaL_checkstring (L, 2);

  luaL_checktype (L, 3, LUA_TTABLE);
  if (len > 0 && src[0] == 0x1b)
    return raise_typed (L, "BytecodeRefused",
                        "precompiled bytecode is not accepted; pass source text");
  if (luaL_loadbufferx (L, src, len, name, "t") != 0)
    {
      lua_pushnil (L);
      lua_insert (L, -2);
      return 2;
    }
  lua_pushvalue (L, 3);
  lua_setfenv (L, -2);
  return 1;
}

static int
l_builtin (lua_State *L)
{
  const char *name = luaL_checkstring (L, 1);
  size_t len;
  const char *src = vm_builtin_source (name, &len);
  char chunk[96];

  if (src == NULL)
    return luaL_error (L, "no built-in module '%s'", name);
  snprintf (chunk, sizeof chunk, "=tactus/%s", name);
  /* Built-in modules are our own bytecode, compiled at build time.  */
  if (luaL_loadbufferx (L, src, len, chunk, "b") != 0)
    return lua_error (L);
  return 1;
}

static int
l_memory (lua_State *L)
{
  struct vm_runtime *rt = runtime (L);
  lua_pushnumber (L, (lua_Number) rt->alloc->used);
  lua_pushnumber (L, (lua_Number) rt->alloc->peak);
  return 2;
}

/* T.rawequal-free type check that never runs metamethods, for reading
 * error values safely: returns the error's message as a plain string.  */
static int
l_error_text (lua_State *L)
{
  size_t len;
  const char *s;

  if (lua_type (L, 1) == LUA_TSTRING)
    {
      s = lua_tolstring (L, 1, &len);
      lua_pushlstring (L, s, len > 4096 ? 4096 : len);
      return 1;
    }
  if (lua_type (L, 1) == LUA_TTABLE)
    {
      lua_pushstring (L, "message");
      lua_rawget (L, 1);
      if (lua_type (L, -1) == LUA_TSTRING)
        return 1;
      lua_pop (L, 1);
    }
  lua_pushfstring (L, "(error object of type %s)", luaL_typename (L, 1));
  return 1;
}

void
vm_push_primitives (lua_State *L, struct vm_runtime *rt)
{
  static const luaL_Reg fns[] = {
    { "call", l_call },
    { "notify", l_notify },
    { "json_encode", l_json_encode },
    { "json_decode", l_json_decode },
    { "now", l_now },
    { "monotonic", l_monotonic },
    { "sleep", l_sleep },
    { "where", l_where },
    { "traceback", l_traceback },
    { "load", l_load },
    { "raised_by_user", l_raised_by_user },
    { "builtin", l_builtin },
    { "memory", l_memory },
    { "error_text", l_error_text },
    { NULL, NULL },
  };

  lua_newtable (L);
  for (const luaL_Reg *f = fns; f->name; f++)
    {
      lua_pushlightuserdata (L, rt);
      lua_pushcclosure (L, f->func, 1);
      lua_setfield (L, -2, f->name);
    }
  lua_pushlstring (L, rt->cfg->source, rt->cfg->source_len);
  lua_setfield (L, -2, "source");
  lua_pushstring (L, rt->cfg->chunkname);
  lua_setfield (L, -2, "chunkname");
  lua_pushboolean (L, rt->cfg->jit);
  lua_setfield (L, -2, "jit");
  vm_open_library_files (L, rt);
  lua_setfield (L, -2, "files");
}
