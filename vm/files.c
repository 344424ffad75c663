/* Files for File.* and tactus.io.*: the VM's cage has no host directory,
 * so every file comes from the broker (fs.* methods, docs/protocol.md
 * "Files").  The broker opens the path beneath the workspace, decides
 * whether the run may (the workspace mode, protected paths) and hands back
 * the open descriptor; the VM reads or writes it directly, so a large file
 * costs no copy through the socket.  Writes go to a temporary file the
 * broker renames into place on fs.commit, so a full disk never leaves a
 * half-written file behind.
 *
 * The path checks here only make the common errors read the same as
 * before; the broker's are the ones that count.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vm/internal.h"

#define MAX_READ (256u << 20)

static struct vm_runtime *
runtime (lua_State *L)
{
  return lua_touserdata (L, lua_upvalueindex (1));
}

static int
check_path (lua_State *L, const char *op, const char *path, size_t len)
{
  const char *p = path;

  if (len == 0 || memchr (path, '\0', len))
    return luaL_error (L, "%s: the path must be a non-empty string", op);
  if (path[0] == '/')
    return luaL_error (L,
                       "%s: '%s': absolute paths are not allowed; use a path relative to the "
                       "workspace",
                       op, path);
  while (*p)
    {
      size_t n = strcspn (p, "/");
      if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.'))
        return luaL_error (L, "%s: '%s': '..' and empty path components are not allowed", op, path);
      p += n;
      if (*p == '/')
        p++;
    }
  return 0;
}

static const char *
checked (lua_State *L, int idx, const char *op)
{
  size_t len;
  const char *path = luaL_checklstring (L, idx, &len);
  check_path (L, op, path, len);
  return path;
}

/* Ask the broker for METHOD with PARAMS (consumed).  Returns the reply (the
 * caller deletes it) and the descriptor that came with it in *FD; an error
 * reply is raised as "OP: message" (the broker's message names a
 * PermissionDenied).  */
static cJSON *
ask (lua_State *L, const char *op, const char *method, cJSON *params, int *fd)
{
  char msg[900];
  cJSON *reply = vm_broker_request (runtime (L), method, params, fd);
  const cJSON *ev, *e, *text;

  if (reply == NULL)
    {
      luaL_error (L, "%s: %s", op, strerror (errno));
      return NULL;
    }
  ev = cJSON_GetObjectItemCaseSensitive (reply, "event");
  if (cJSON_IsString (ev) && strcmp (ev->valuestring, "done") == 0)
    return reply;
  e = cJSON_GetObjectItemCaseSensitive (reply, "error");
  text = cJSON_GetObjectItemCaseSensitive (e, "message");
  snprintf (msg, sizeof msg, "%s: %s", op,
            cJSON_IsString (text) ? text->valuestring : "the broker refused the request");
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
  cJSON_Delete (reply);
  luaL_error (L, "%s", msg);
  return NULL;
}

static cJSON *
path_params (const char *path)
{
  cJSON *p = cJSON_CreateObject ();
  cJSON_AddStringToObject (p, "path", path);
  return p;
}

static double
num (const cJSON *reply, const char *key)
{
  const cJSON *v
      = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (reply, "data"), key);
  return cJSON_IsNumber (v) ? v->valuedouble : -1;
}

static const char *
str (const cJSON *reply, const char *key)
{
  const cJSON *v
      = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (reply, "data"), key);
  return cJSON_IsString (v) ? v->valuestring : "";
}

/* The broker said done: a descriptor must have come with it.  */
static void
need_fd (lua_State *L, const char *op, const char *path, cJSON *reply, int fd)
{
  if (fd >= 0)
    return;
  cJSON_Delete (reply);
  luaL_error (L, "%s: '%s': the broker sent no file", op, path);
}

static int
fail_errno (lua_State *L, const char *op, const char *path, int e)
{
  if (e == ENOSPC || e == EDQUOT)
    return luaL_error (L, "%s: '%s': the disk is full", op, path);
  if (e == EFBIG)
    return luaL_error (L, "%s: '%s': the file size limit was reached", op, path);
  return luaL_error (L, "%s: '%s': %s", op, path, strerror (e));
}

static int
l_read (lua_State *L)
{
  const char *path = checked (L, 1, "File.read");
  int fd = -1;
  cJSON *params = path_params (path), *reply;
  double size;
  size_t cap, total = 0;
  char *buf;
  ssize_t n = 0;

  cJSON_AddStringToObject (params, "mode", "read");
  reply = ask (L, "File.read", "fs.open", params, &fd);
  size = num (reply, "size");
  need_fd (L, "File.read", path, reply, fd);
  cJSON_Delete (reply);
  if (size > MAX_READ)
    {
      close (fd);
      return luaL_error (L, "File.read: '%s': larger than %u MiB", path, MAX_READ >> 20);
    }
  /* One buffer of the size the broker saw (one byte more tells whether it
   * grew since); it lives in the Lua heap, so the memory cap counts it.  */
  cap = size > 0 ? (size_t) size + 1 : 4096;
  buf = lua_newuserdata (L, cap);
  for (;;)
    {
      if (total == cap)
        {
          size_t ncap = cap * 2 > MAX_READ + 1 ? MAX_READ + 1 : cap * 2;
          char *nb;
          if (ncap <= cap)
            {
              close (fd);
              return luaL_error (L, "File.read: '%s': larger than %u MiB", path, MAX_READ >> 20);
            }
          nb = lua_newuserdata (L, ncap);
          memcpy (nb, buf, total);
          lua_remove (L, -2);
          buf = nb;
          cap = ncap;
        }
      n = read (fd, buf + total, cap - total);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      total += (size_t) n;
    }
  if (n < 0)
    {
      int e = errno;
      close (fd);
      return fail_errno (L, "File.read", path, e);
    }
  close (fd);
  if (total > MAX_READ)
    return luaL_error (L, "File.read: '%s': larger than %u MiB", path, MAX_READ >> 20);
  lua_pushlstring (L, buf, total);
  lua_remove (L, -2);
  return 1;
}

static int
write_all (int fd, const char *data, size_t len)
{
  while (len > 0)
    {
      ssize_t w = write (fd, data, len);
      if (w < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      data += w;
      len -= (size_t) w;
    }
  return 0;
}

static cJSON *
handle_params (double handle)
{
  cJSON *p = cJSON_CreateObject ();
  cJSON_AddNumberToObject (p, "handle", handle);
  return p;
}

/* files.write(path, data, append) */
static int
l_write (lua_State *L)
{
  const char *path = checked (L, 1, "File.write");
  size_t dlen;
  const char *data = luaL_checklstring (L, 2, &dlen);
  bool append = lua_toboolean (L, 3);
  cJSON *params = path_params (path), *reply;
  int fd = -1, e = 0;
  double handle;

  cJSON_AddStringToObject (params, "mode", append ? "append" : "write");
  reply = ask (L, "File.write", "fs.open", params, &fd);
  need_fd (L, "File.write", path, reply, fd);
  handle = num (reply, "handle");
  cJSON_Delete (reply);
  if (write_all (fd, data, dlen) < 0 || (!append && fsync (fd) < 0))
    e = errno;
  close (fd);
  /* Commit or abort: the broker renames the temporary into place, or
   * removes it.  */
  reply = ask (L, "File.write", e ? "fs.abort" : "fs.commit", handle_params (handle), &fd);
  if (fd >= 0)
    close (fd);
  cJSON_Delete (reply);
  if (e)
    return fail_errno (L, "File.write", path, e);
  return 0;
}

static void
stat_type (lua_State *L, const char *op, const char *path, char *type, size_t tsize, double *size)
{
  int fd = -1;
  cJSON *reply = ask (L, op, "fs.stat", path_params (path), &fd);

  if (fd >= 0)
    close (fd);
  snprintf (type, tsize, "%s", str (reply, "type"));
  *size = num (reply, "size");
  cJSON_Delete (reply);
}

static int
l_exists (lua_State *L)
{
  const char *path = checked (L, 1, "File.exists");
  char type[16];
  double size;

  stat_type (L, "File.exists", path, type, sizeof type, &size);
  lua_pushboolean (L, strcmp (type, "none") != 0 && strcmp (type, "symlink") != 0);
  return 1;
}

static int
l_size (lua_State *L)
{
  const char *path = checked (L, 1, "File.size");
  char type[16];
  double size;

  stat_type (L, "File.size", path, type, sizeof type, &size);
  if (strcmp (type, "none") == 0)
    return fail_errno (L, "File.size", path, ENOENT);
  if (strcmp (type, "file") != 0)
    return luaL_error (L, "File.size: '%s': not a regular file", path);
  lua_pushnumber (L, size);
  return 1;
}

static int
l_is_dir (lua_State *L)
{
  const char *path = checked (L, 1, "File.is_dir");
  char type[16];
  double size;

  stat_type (L, "File.is_dir", path, type, sizeof type, &size);
  lua_pushboolean (L, strcmp (type, "dir") == 0);
  return 1;
}

/* Methods that answer with nothing but success.  */
static int
simple (lua_State *L, const char *op, const char *method, cJSON *params)
{
  int fd = -1;
  cJSON *reply = ask (L, op, method, params, &fd);

  if (fd >= 0)
    close (fd);
  cJSON_Delete (reply);
  return 0;
}

static int
l_remove (lua_State *L)
{
  const char *path = checked (L, 1, "File.remove");
  return simple (L, "File.remove", "fs.remove", path_params (path));
}

/* files.mkdir(path [, parents]) */
static int
l_mkdir (lua_State *L)
{
  const char *path = checked (L, 1, "File.mkdir");
  cJSON *params = path_params (path);

  cJSON_AddBoolToObject (params, "parents", lua_toboolean (L, 2));
  return simple (L, "File.mkdir", "fs.mkdir", params);
}

/* files.rename(from, to) */
static int
l_rename (lua_State *L)
{
  const char *from = checked (L, 1, "File.rename");
  const char *to = checked (L, 2, "File.rename");
  cJSON *params = cJSON_CreateObject ();

  cJSON_AddStringToObject (params, "from", from);
  cJSON_AddStringToObject (params, "to", to);
  return simple (L, "File.rename", "fs.rename", params);
}

/* files.list(dir) -> names ("." lists the workspace itself).  */
static int
l_list (lua_State *L)
{
  size_t len;
  const char *path = luaL_optlstring (L, 1, ".", &len);
  int fd = -1, i = 1;
  cJSON *reply;
  const cJSON *names, *n;

  check_path (L, "File.list", path, len);
  reply = ask (L, "File.list", "fs.list", path_params (path), &fd);
  if (fd >= 0)
    close (fd);
  names = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (reply, "data"),
                                            "names");
  lua_newtable (L);
  cJSON_ArrayForEach (n, names)
  {
    if (cJSON_IsString (n))
      {
        lua_pushstring (L, n->valuestring);
        lua_rawseti (L, -2, i++);
      }
  }
  cJSON_Delete (reply);
  return 1;
}

int
vm_open_library_files (lua_State *L, struct vm_runtime *rt)
{
  static const luaL_Reg fns[] = {
    { "read", l_read },     { "write", l_write },   { "exists", l_exists }, { "size", l_size },
    { "is_dir", l_is_dir }, { "remove", l_remove }, { "mkdir", l_mkdir },   { "rename", l_rename },
    { "list", l_list },     { NULL, NULL },
  };

  lua_newtable (L);
  for (const luaL_Reg *f = fns; f->name; f++)
    {
      lua_pushlightuserdata (L, rt);
      lua_pushcclosure (L, f->func, 1);
      lua_setfield (L, -2, f->name);
    }
  return 1;
}
