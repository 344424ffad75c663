/* Files for File.* and tactus.io.*: confined to the workspace.
 *
 * The sandbox's mount namespace is the real confinement (nothing but
 * /workspace and a tmpfs exists in it).  These checks make the errors clear
 * and keep the same rules with --no-sandbox: paths are relative, '..' and
 * empty components are refused, and every component is opened with
 * O_NOFOLLOW from the workspace directory fd, so a symlink can never lead
 * out.  Writes go to a temporary file renamed into place, so a full disk
 * never leaves a half-written file behind.  */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Open the directory holding PATH's last component; *BASE points at it.  */
static int
open_parent (lua_State *L, const char *op, const char *path, const char **base)
{
  struct vm_runtime *rt = runtime (L);
  char comp[256];
  const char *p = path, *slash;
  int dir;

  if (rt->workspace_fd < 0)
    return luaL_error (L, "%s: no workspace is mounted (sandbox.mount_current_dir is off)", op);
  dir = fcntl (rt->workspace_fd, F_DUPFD_CLOEXEC, 0);
  if (dir < 0)
    return luaL_error (L, "%s: %s", op, strerror (errno));
  while ((slash = strchr (p, '/')) != NULL)
    {
      size_t n = (size_t) (slash - p);
      int next;
      if (n >= sizeof comp)
        {
          close (dir);
          return luaL_error (L, "%s: '%s': path component too long", op, path);
        }
      memcpy (comp, p, n);
      comp[n] = '\0';
      next = openat (dir, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0)
        {
          int e = errno;
          close (dir);
          return luaL_error (L, "%s: '%s': %s", op, path,
                             e == ENOTDIR || e == ELOOP ? "a directory in the path is a symlink "
                                                          "or not a directory (symlinks are not "
                                                          "followed)"
                                                        : strerror (e));
        }
      close (dir);
      dir = next;
      p = slash + 1;
    }
  *base = p;
  return dir;
}

static const char *
checked (lua_State *L, const char *op, size_t *len)
{
  const char *path = luaL_checklstring (L, 1, len);
  check_path (L, op, path, *len);
  return path;
}

static int
fail_errno (lua_State *L, const char *op, const char *path, int e)
{
  if (e == ELOOP)
    return luaL_error (L, "%s: '%s': is a symlink (symlinks are not followed)", op, path);
  if (e == ENOSPC || e == EDQUOT)
    return luaL_error (L, "%s: '%s': the disk is full", op, path);
  if (e == EFBIG)
    return luaL_error (L, "%s: '%s': the file size limit was reached", op, path);
  return luaL_error (L, "%s: '%s': %s", op, path, strerror (e));
}

static int
l_read (lua_State *L)
{
  size_t len;
  const char *path = checked (L, "File.read", &len), *base;
  int dir = open_parent (L, "File.read", path, &base);
  int fd = openat (dir, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  int e = errno;
  struct stat st;
  luaL_Buffer b;
  char buf[16384];
  size_t total = 0;
  ssize_t n;

  close (dir);
  if (fd < 0)
    return fail_errno (L, "File.read", path, e);
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      return luaL_error (L, "File.read: '%s': not a regular file", path);
    }
  luaL_buffinit (L, &b);
  while ((n = read (fd, buf, sizeof buf)) > 0)
    {
      total += (size_t) n;
      if (total > MAX_READ)
        {
          close (fd);
          return luaL_error (L, "File.read: '%s': larger than %u MiB", path, MAX_READ >> 20);
        }
      luaL_addlstring (&b, buf, (size_t) n);
    }
  e = errno;
  close (fd);
  if (n < 0)
    return fail_errno (L, "File.read", path, e);
  luaL_pushresult (&b);
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

/* files.write(path, data, append) */
static int
l_write (lua_State *L)
{
  size_t len, dlen;
  const char *path = checked (L, "File.write", &len), *base;
  const char *data = luaL_checklstring (L, 2, &dlen);
  bool append = lua_toboolean (L, 3);
  int dir = open_parent (L, "File.write", path, &base);
  char tmp[300];
  int fd, e;

  if (append)
    {
      fd = openat (dir, base, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
      e = errno;
      if (fd < 0 || write_all (fd, data, dlen) < 0)
        {
          e = errno;
          if (fd >= 0)
            close (fd);
          close (dir);
          return fail_errno (L, "File.write", path, e);
        }
      close (fd);
      close (dir);
      return 0;
    }
  snprintf (tmp, sizeof tmp, ".%.200s.tmp-%d", base, (int) getpid ());
  fd = openat (dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 || write_all (fd, data, dlen) < 0 || fsync (fd) < 0)
    {
      e = errno;
      if (fd >= 0)
        {
          close (fd);
          unlinkat (dir, tmp, 0);
        }
      close (dir);
      return fail_errno (L, "File.write", path, e);
    }
  close (fd);
  if (renameat (dir, tmp, dir, base) < 0)
    {
      e = errno;
      unlinkat (dir, tmp, 0);
      close (dir);
      return fail_errno (L, "File.write", path, e);
    }
  close (dir);
  return 0;
}

static int
stat_path (lua_State *L, const char *op, struct stat *st, const char **path_out)
{
  size_t len;
  const char *path = checked (L, op, &len), *base;
  int dir = open_parent (L, op, path, &base);
  int r = fstatat (dir, base, st, AT_SYMLINK_NOFOLLOW);
  int e = errno;

  close (dir);
  *path_out = path;
  errno = e;
  return r;
}

static int
l_exists (lua_State *L)
{
  struct stat st;
  const char *path;
  lua_pushboolean (L, stat_path (L, "File.exists", &st, &path) == 0 && !S_ISLNK (st.st_mode));
  return 1;
}

static int
l_size (lua_State *L)
{
  struct stat st;
  const char *path;

  if (stat_path (L, "File.size", &st, &path) < 0)
    return fail_errno (L, "File.size", path, errno);
  if (!S_ISREG (st.st_mode))
    return luaL_error (L, "File.size: '%s': not a regular file", path);
  lua_pushnumber (L, (lua_Number) st.st_size);
  return 1;
}

static int
l_is_dir (lua_State *L)
{
  struct stat st;
  const char *path;
  lua_pushboolean (L, stat_path (L, "File.is_dir", &st, &path) == 0 && S_ISDIR (st.st_mode));
  return 1;
}

static int
l_remove (lua_State *L)
{
  size_t len;
  const char *path = checked (L, "File.remove", &len), *base;
  int dir = open_parent (L, "File.remove", path, &base);
  int r = unlinkat (dir, base, 0), e = errno;

  if (r < 0 && e == EISDIR)
    r = unlinkat (dir, base, AT_REMOVEDIR), e = errno;
  close (dir);
  if (r < 0)
    return fail_errno (L, "File.remove", path, e);
  return 0;
}

/* files.mkdir(path[, parents]): with PARENTS, every missing directory on
 * the way is made too (mkdir -p), one component at a time from the
 * workspace fd, never following a symlink.  */
static int
l_mkdir (lua_State *L)
{
  size_t len;
  const char *path = checked (L, "File.mkdir", &len), *base;
  bool parents = lua_toboolean (L, 2);
  int dir, r, e;

  if (parents)
    {
      struct vm_runtime *rt = runtime (L);
      char comp[256];
      const char *p = path;

      if (rt->workspace_fd < 0)
        return luaL_error (
            L, "File.mkdir: no workspace is mounted (sandbox.mount_current_dir is off)");
      dir = fcntl (rt->workspace_fd, F_DUPFD_CLOEXEC, 0);
      if (dir < 0)
        return fail_errno (L, "File.mkdir", path, errno);
      while (*p)
        {
          size_t n = strcspn (p, "/");
          int next;
          if (n >= sizeof comp)
            {
              close (dir);
              return luaL_error (L, "File.mkdir: '%s': path component too long", path);
            }
          memcpy (comp, p, n);
          comp[n] = '\0';
          if (mkdirat (dir, comp, 0755) < 0 && errno != EEXIST)
            {
              e = errno;
              close (dir);
              return fail_errno (L, "File.mkdir", path, e);
            }
          next = openat (dir, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          e = errno;
          close (dir);
          if (next < 0)
            return luaL_error (L, "File.mkdir: '%s': %s", path,
                               e == ENOTDIR || e == ELOOP ? "a directory in the path is a symlink "
                                                            "or not a directory (symlinks are not "
                                                            "followed)"
                                                          : strerror (e));
          dir = next;
          p += n;
          if (*p == '/')
            p++;
        }
      close (dir);
      return 0;
    }
  dir = open_parent (L, "File.mkdir", path, &base);
  r = mkdirat (dir, base, 0755), e = errno;
  close (dir);
  if (r < 0 && e != EEXIST)
    return fail_errno (L, "File.mkdir", path, e);
  return 0;
}

/* files.list(dir) -> sorted names ("." lists the workspace itself).  */
static int
l_list (lua_State *L)
{
  struct vm_runtime *rt = runtime (L);
  size_t len;
  const char *path = luaL_optlstring (L, 1, ".", &len), *base;
  int dir, fd;
  DIR *d;
  struct dirent *de;
  int i = 1;

  if (strcmp (path, ".") == 0)
    fd = openat (rt->workspace_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  else
    {
      check_path (L, "File.list", path, len);
      dir = open_parent (L, "File.list", path, &base);
      fd = openat (dir, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      close (dir);
    }
  if (fd < 0 || (d = fdopendir (fd)) == NULL)
    {
      int e = errno;
      if (fd >= 0)
        close (fd);
      return fail_errno (L, "File.list", path, e);
    }
  lua_newtable (L);
  while ((de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      lua_pushstring (L, de->d_name);
      lua_rawseti (L, -2, i++);
    }
  closedir (d);
  return 1;
}

int
vm_open_library_files (lua_State *L, struct vm_runtime *rt)
{
  static const luaL_Reg fns[] = {
    { "read", l_read },   { "write", l_write },   { "exists", l_exists },
    { "size", l_size },   { "is_dir", l_is_dir }, { "remove", l_remove },
    { "mkdir", l_mkdir }, { "list", l_list },     { NULL, NULL },
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
