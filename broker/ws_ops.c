/* The VM's files (broker/workspace.c): the fs.* methods, each resolving
 * its path with ws_paths.c and deciding with workspace.c's policy.  */
#define _GNU_SOURCE
#define TR_BROKER_WS_INTERNAL
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "broker/internal.h"
#include "broker/overlay.h"
#include "broker/trace.h"
#include "broker/workspace.h"
#include "common/cleanup.h"
#include "common/protected.h"
#include "common/strv.h"

/* ---- the methods ----------------------------------------------------------- */

static struct ws_handle *
new_handle (struct broker_workspace *ws, struct ws_error *e)
{
  for (size_t i = 0; i < WS_MAX_HANDLES; i++)
    if (!ws->h[i].used)
      {
        struct ws_handle *h = &ws->h[i];
        memset (h, 0, sizeof *h);
        h->used = true;
        h->fd = h->dirfd = -1;
        return h;
      }
  ws_fail (e, "FileError",
           "more than %d files open for writing at once (each write ends with fs.commit)",
           WS_MAX_HANDLES);
  return NULL;
}

static double
handle_id (const struct broker_workspace *ws, const struct ws_handle *h)
{
  return (double) ((h - ws->h) + 1);
}

int
ws_op_read (struct broker_workspace *ws, const char *path, const char *norm, struct ws_result *res,
            struct ws_error *e)
{
  const char *rest;
  size_t r = ws_pick_root (ws, norm, &rest);
  off_t size = 0;
  int memfd = -1, fd;
  struct stat st;

  if (r == 0 && ws->ov)
    switch (overlay_lookup (ws->ov, norm, &memfd))
      {
      case OVERLAY_FILE:
        fd = ws_reopen (memfd, O_RDONLY);
        if (fd < 0 || fstat (fd, &st) < 0)
          return ws_errno (e, path, errno);
        size = st.st_size;
        goto done;
      case OVERLAY_DIR:
        return ws_fail (e, "FileError", "'%.300s': not a regular file", path);
      case OVERLAY_GONE:
        return ws_errno (e, path, ENOENT);
      case OVERLAY_NOTDIR:
        return ws_parent_error (e, path, ENOTDIR);
      case OVERLAY_LOWER:
        break;
      }
  fd = ws_lower_open_read (ws, r, rest, path, &size, e);
  if (fd < 0)
    return -1;
done:
  res->fd = fd;
  res->own_fd = true;
  res->bytes = size;
  res->data = cJSON_CreateObject ();
  cJSON_AddNumberToObject (res->data, "size", (double) size);
  return 0;
}

int
ws_op_write (struct broker_workspace *ws, const char *path, const char *norm, struct ws_result *res,
             struct ws_error *e)
{
  const char *rest;
  size_t r = ws_pick_root (ws, norm, &rest);
  struct ws_handle *h;
  enum ws_type t;
  off_t size;

  if (ws_may_write (ws, r, path, norm, e) < 0)
    return -1;
  if (rest[0] == '\0')
    return ws_errno (e, path, EISDIR);
  if (ws_merged_stat (ws, path, norm, &t, &size, e) < 0)
    return -1;
  if (t == WS_DIR)
    return ws_errno (e, path, EISDIR);
  if (r == 0 && ws->ov)
    {
      if (ws_need_parent_dir (ws, path, norm, e) < 0 || (h = new_handle (ws, e)) == NULL)
        return -1;
      h->overlay = true;
      h->fd = ws_new_memfd ();
      h->path = strdup (norm);
      if (h->fd < 0 || h->path == NULL)
        {
          int err = h->fd < 0 ? errno : ENOMEM;
          ws_handle_release (ws, h, false);
          return ws_errno (e, path, err);
        }
    }
  else
    {
      char buf[WS_PATH_MAX];
      const char *base;
      int dir = ws_open_parent (ws, ws->roots[r].fd, rest, buf, sizeof buf, &base);
      if (dir < 0)
        return ws_parent_error (e, path, errno);
      if ((h = new_handle (ws, e)) == NULL)
        {
          close (dir);
          return -1;
        }
      h->dirfd = dir;
      h->path = strdup (norm);
      snprintf (h->base, sizeof h->base, "%s", base);
      for (int tries = 0; tries < 16 && h->fd < 0; tries++)
        {
          snprintf (h->tmp, sizeof h->tmp, ".%.200s.tmp-%d-%u", base, (int) getpid (),
                    ++ws->serial);
          h->fd = openat (dir, h->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
          if (h->fd < 0 && errno != EEXIST)
            break;
        }
      if (h->fd < 0 || h->path == NULL)
        {
          int err = h->path ? errno : ENOMEM;
          h->tmp[0] = '\0';
          ws_handle_release (ws, h, false);
          return ws_errno (e, path, err);
        }
    }
  res->fd = h->fd;
  res->own_fd = false;
  res->data = cJSON_CreateObject ();
  cJSON_AddNumberToObject (res->data, "handle", handle_id (ws, h));
  return 0;
}

int
ws_op_append (struct broker_workspace *ws, const char *path, const char *norm,
              struct ws_result *res, struct ws_error *e)
{
  const char *rest;
  size_t r = ws_pick_root (ws, norm, &rest);
  struct ws_handle *h;
  struct stat st;
  int fd = -1, memfd = -1;
  off_t size = 0;

  if (ws_may_write (ws, r, path, norm, e) < 0)
    return -1;
  if (rest[0] == '\0')
    return ws_errno (e, path, EISDIR);
  if (r == 0 && ws->ov)
    {
      /* Appending makes a new upper file: a copy of what the run sees
       * there, sealed again when the append is committed.  */
      int src = -1, m;
      switch (overlay_lookup (ws->ov, norm, &memfd))
        {
        case OVERLAY_FILE:
          src = ws_reopen (memfd, O_RDONLY);
          if (src < 0 || fstat (src, &st) < 0)
            return ws_errno (e, path, errno);
          size = st.st_size;
          break;
        case OVERLAY_DIR:
          return ws_errno (e, path, EISDIR);
        case OVERLAY_NOTDIR:
          return ws_parent_error (e, path, ENOTDIR);
        case OVERLAY_GONE:
          if (ws_need_parent_dir (ws, path, norm, e) < 0)
            return -1;
          break;
        case OVERLAY_LOWER:
          {
            enum ws_type t;
            off_t sz;
            if (ws_merged_stat (ws, path, norm, &t, &sz, e) < 0)
              return -1;
            if (t == WS_DIR)
              return ws_errno (e, path, EISDIR);
            if (t == WS_NONE)
              {
                if (ws_need_parent_dir (ws, path, norm, e) < 0)
                  return -1;
                break;
              }
            src = ws_lower_open_read (ws, r, rest, path, &size, e);
            if (src < 0)
              return -1;
          }
          break;
        }
      if (!overlay_fits (ws->ov, norm, (uint64_t) size))
        {
          if (src >= 0)
            close (src);
          return ws_errno (e, path, ENOSPC);
        }
      m = src >= 0 ? ws_copy_to_memfd (src, size) : ws_new_memfd ();
      if (src >= 0)
        close (src);
      if (m < 0)
        return ws_errno (e, path, errno);
      fd = ws_reopen (m, O_WRONLY | O_APPEND);
      if (fd < 0 || (h = new_handle (ws, e)) == NULL)
        {
          int err = errno;
          close (m);
          if (fd >= 0)
            close (fd);
          return fd < 0 ? ws_errno (e, path, err) : -1;
        }
      h->overlay = true;
      h->fd = m;
    }
  else
    {
      char buf[WS_PATH_MAX];
      const char *base;
      cleanup_close int dir = ws_open_parent (ws, ws->roots[r].fd, rest, buf, sizeof buf, &base);
      if (dir < 0)
        return ws_parent_error (e, path, errno);
      for (int tries = 0; fd < 0 && tries < 8; tries++)
        {
          cleanup_close int o = openat (dir, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
          if (o < 0 && errno == ENOENT)
            {
              fd = openat (dir, base,
                           O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
              if (fd < 0 && errno == EEXIST)
                continue;
              if (fd < 0)
                return ws_errno (e, path, errno);
              break;
            }
          if (o < 0 || fstat (o, &st) < 0)
            return ws_errno (e, path, errno);
          if (S_ISLNK (st.st_mode))
            return ws_errno (e, path, ELOOP);
          if (!S_ISREG (st.st_mode))
            return ws_fail (e, "FileError", "'%.300s': not a regular file", path);
          size = st.st_size;
          fd = ws_reopen (o, O_WRONLY | O_APPEND);
          if (fd < 0)
            return ws_errno (e, path, errno);
        }
      if (fd < 0)
        return ws_errno (e, path, EAGAIN);
      if ((h = new_handle (ws, e)) == NULL)
        {
          close (fd);
          return -1;
        }
      h->fd = fcntl (fd, F_DUPFD_CLOEXEC, 0);
      if (h->fd < 0)
        {
          int err = errno;
          close (fd);
          ws_handle_release (ws, h, false);
          return ws_errno (e, path, err);
        }
    }
  h->append = true;
  h->start = size;
  h->path = strdup (norm);
  if (h->path == NULL)
    {
      close (fd);
      ws_handle_release (ws, h, false);
      return ws_errno (e, path, ENOMEM);
    }
  res->fd = fd;
  res->own_fd = true;
  res->data = cJSON_CreateObject ();
  cJSON_AddNumberToObject (res->data, "handle", handle_id (ws, h));
  cJSON_AddNumberToObject (res->data, "size", (double) size);
  return 0;
}

struct ws_handle *
ws_find_handle (struct broker_workspace *ws, const cJSON *params)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (params, "handle");
  double d;

  if (!cJSON_IsNumber (v))
    return NULL;
  d = v->valuedouble;
  if (!(d >= 1 && d <= WS_MAX_HANDLES) || d != (double) (int) d || !ws->h[(int) d - 1].used)
    return NULL;
  return &ws->h[(int) d - 1];
}

/* fs.commit: the write takes effect (the temporary renamed into place, or
 * the overlay's new file sealed and put in); fs.abort: it does not.  */
int
ws_op_commit (struct broker_state *b, struct broker_workspace *ws, const cJSON *params,
              bool abort_it, struct ws_result *res, struct ws_error *e, char *path, size_t size)
{
  struct ws_handle *h = ws_find_handle (ws, params);
  struct stat st;

  if (h == NULL)
    return WS_VIOLATION;
  snprintf (path, size, "%s", h->path ? h->path : "");
  res->data = cJSON_CreateObject ();
  if (abort_it)
    {
      ws_handle_release (ws, h, true);
      return 0;
    }
  if (fstat (h->fd, &st) < 0)
    {
      int err = errno;
      ws_handle_release (ws, h, true);
      return ws_errno (e, path, err);
    }
  res->bytes = h->append ? st.st_size - h->start : st.st_size;
  if (h->overlay)
    {
      /* From here the VM's copy of the descriptor cannot change the file:
       * the budget holds for what was committed.  */
      int seal = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL;
      if (fcntl (h->fd, F_ADD_SEALS, seal) < 0 || fstat (h->fd, &st) < 0)
        {
          int err = errno;
          ws_handle_release (ws, h, false);
          return ws_errno (e, path, err);
        }
      res->bytes = h->append ? st.st_size - h->start : st.st_size;
      if (overlay_put_file (ws->ov, h->path, h->fd) < 0)
        {
          int err = errno;
          h->fd = -1; /* closed by overlay_put_file */
          ws_handle_release (ws, h, false);
          if (err == ENOSPC)
            return ws_fail (e, "FileError",
                            "'%.300s': the disk is full (an overlay workspace holds at most "
                            "%llu MiB of the run's files)",
                            path, (unsigned long long) (overlay_used (ws->ov) >> 20));
          return ws_errno (e, path, err);
        }
      h->fd = -1;
    }
  else if (!h->append && renameat (h->dirfd, h->tmp, h->dirfd, h->base) < 0)
    {
      int err = errno;
      ws_handle_release (ws, h, true);
      return ws_errno (e, path, err);
    }
  else
    h->tmp[0] = '\0';
  cJSON_AddNumberToObject (res->data, "bytes", (double) res->bytes);
  ws_handle_release (ws, h, false);
  (void) b;
  return 0;
}

int
ws_op_stat (struct broker_workspace *ws, const char *path, const char *norm, struct ws_result *res,
            struct ws_error *e)
{
  enum ws_type t;
  off_t size;

  if (ws_merged_stat (ws, path, norm, &t, &size, e) < 0)
    return -1;
  res->data = cJSON_CreateObject ();
  cJSON_AddStringToObject (res->data, "type", ws_type_name (t));
  if (t == WS_FILE)
    {
      cJSON_AddNumberToObject (res->data, "size", (double) size);
      res->bytes = size;
    }
  return 0;
}

/* ---- listing ---------------------------------------------------------------- */

#define LIST_MAX_BYTES (6 << 20) /* the reply stays well under FRAME_MAX_MESSAGE */

struct listing
{
  char **names;
  size_t n, cap, bytes;
  bool too_big;
};

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
listing_add (struct listing *l, const char *name)
{
  if (l->too_big)
    return;
  l->bytes += strlen (name) + 4;
  if (l->bytes > LIST_MAX_BYTES)
    {
      l->too_big = true;
      return;
    }
  if (l->n == l->cap)
    {
      size_t cap = l->cap ? l->cap * 2 : 64;
      char **nn = realloc (l->names, cap * sizeof *nn);
      if (nn == NULL)
        {
          l->too_big = true;
          return;
        }
      l->names = nn;
      l->cap = cap;
    }
  if ((l->names[l->n] = strdup (name)) != NULL)
    l->n++;
}

static void
listing_free (struct listing *l)
{
  for (size_t i = 0; i < l->n; i++)
    free (l->names[i]);
  free (l->names);
}

static bool
listing_has (const struct listing *l, size_t sorted, const char *name)
{
  if (sorted && bsearch (&name, l->names, sorted, sizeof *l->names, cmp_names))
    return true;
  for (size_t i = sorted; i < l->n; i++)
    if (strcmp (l->names[i], name) == 0)
      return true;
  return false;
}

/* Remove NAME, keeping the order (the first *SORTED stay sorted).  */
static void
listing_remove (struct listing *l, size_t *sorted, const char *name)
{
  for (size_t i = 0; i < l->n; i++)
    if (strcmp (l->names[i], name) == 0)
      {
        free (l->names[i]);
        memmove (&l->names[i], &l->names[i + 1], (l->n - i - 1) * sizeof *l->names);
        l->n--;
        if (i < *sorted)
          (*sorted)--;
        return;
      }
}

struct upper_ctx
{
  struct listing *l;
  size_t sorted;
};

static void
upper_child (void *ctx, const char *name, enum overlay_kind kind)
{
  struct upper_ctx *u = ctx;

  if (kind == OVERLAY_GONE)
    listing_remove (u->l, &u->sorted, name);
  else if (!listing_has (u->l, u->sorted, name))
    listing_add (u->l, name);
}

int
ws_op_list (struct broker_workspace *ws, const char *path, const char *norm, struct ws_result *res,
            struct ws_error *e)
{
  const char *rest;
  size_t r = ws_pick_root (ws, norm, &rest), sorted;
  struct listing l = { 0 };
  bool lower = true, upper = false;
  enum ws_type t;
  off_t size;
  int fd;
  DIR *d;
  struct dirent *de;
  size_t nlen = strlen (norm);

  if (ws_merged_stat (ws, path, norm, &t, &size, e) < 0)
    return -1;
  if (t == WS_NONE)
    return ws_errno (e, path, ENOENT);
  if (t == WS_SYMLINK)
    return ws_errno (e, path, ELOOP);
  if (t != WS_DIR)
    return ws_errno (e, path, ENOTDIR);
  if (r == 0 && ws->ov)
    {
      enum overlay_kind k = overlay_lookup (ws->ov, norm, NULL);
      upper = true;
      lower = k == OVERLAY_LOWER || (k == OVERLAY_DIR && !overlay_opaque (ws->ov, norm));
    }
  if (lower)
    {
      fd = broker_ws_open_beneath (ws->roots[r].fd, rest, O_RDONLY | O_DIRECTORY,
                                   broker_ws_force_walk);
      if (fd < 0 && errno != ENOENT)
        return ws_parent_error (e, path, errno);
      if (fd >= 0)
        {
          d = fdopendir (fd);
          if (d == NULL)
            {
              int err = errno;
              close (fd);
              return ws_errno (e, path, err);
            }
          while ((de = readdir (d)) != NULL)
            if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
              listing_add (&l, de->d_name);
          closedir (d);
        }
    }
  if (l.n)
    qsort (l.names, l.n, sizeof *l.names, cmp_names);
  sorted = l.n;
  if (upper)
    {
      struct upper_ctx u = { &l, sorted };
      overlay_children (ws->ov, norm, upper_child, &u);
      sorted = u.sorted;
    }
  /* Volume mount points below this directory (their first component).  */
  for (size_t i = 1; i < ws->n_roots; i++)
    {
      const char *t2 = ws->roots[i].target, *name;
      char first[256];
      if (strcmp (norm, ".") == 0)
        name = t2;
      else if (strncmp (t2, norm, nlen) == 0 && t2[nlen] == '/')
        name = t2 + nlen + 1;
      else
        continue;
      snprintf (first, sizeof first, "%.*s", (int) strcspn (name, "/"), name);
      if (!listing_has (&l, sorted, first))
        listing_add (&l, first);
    }
  if (l.too_big)
    {
      listing_free (&l);
      return ws_fail (e, "FileError",
                      "'%.300s': too many entries to list (more than %d MiB of names)", path,
                      LIST_MAX_BYTES >> 20);
    }
  res->data = cJSON_CreateObject ();
  {
    cJSON *names = cJSON_AddArrayToObject (res->data, "names");
    for (size_t i = 0; i < l.n; i++)
      cJSON_AddItemToArray (names, cJSON_CreateString (l.names[i]));
  }
  res->bytes = (long long) l.n;
  listing_free (&l);
  return 0;
}

/* ---- directories, removal, renaming ----------------------------------------- */

static int
make_one_dir (struct broker_workspace *ws, const char *path, const char *prefix, struct ws_error *e)
{
  const char *rest;
  size_t r = ws_pick_root (ws, prefix, &rest);

  if (ws_may_write (ws, r, path, prefix, e) < 0)
    return -1;
  if (r == 0 && ws->ov)
    {
      bool opaque = overlay_lookup (ws->ov, prefix, NULL) == OVERLAY_GONE;
      if (ws_need_parent_dir (ws, path, prefix, e) < 0)
        return -1;
      if (overlay_put_dir (ws->ov, prefix, opaque) < 0)
        return ws_errno (e, path, errno == EMFILE ? ENOSPC : errno);
      return 0;
    }
  {
    char buf[WS_PATH_MAX];
    const char *base;
    cleanup_close int dir = ws_open_parent (ws, ws->roots[r].fd, rest, buf, sizeof buf, &base);
    if (dir < 0)
      return ws_parent_error (e, path, errno);
    if (mkdirat (dir, base, 0755) < 0 && errno != EEXIST)
      return ws_errno (e, path, errno);
  }
  return 0;
}

int
ws_op_mkdir (struct broker_workspace *ws, const char *path, const char *norm, bool parents,
             struct ws_result *res, struct ws_error *e)
{
  char prefix[WS_PATH_MAX];
  enum ws_type t;
  off_t size;

  /* Only what is made is checked (make_one_dir): a directory that exists
   * already, protected or in a read-only workspace, is no change.  */
  for (const char *p = parents ? norm : norm + strlen (norm); p;)
    {
      const char *slash = strchr (p, '/');
      size_t len = slash ? (size_t) (slash - norm) : strlen (norm);
      snprintf (prefix, sizeof prefix, "%.*s", (int) len, norm);
      if (ws_merged_stat (ws, path, prefix, &t, &size, e) < 0)
        return -1;
      if (t == WS_NONE)
        {
          if (make_one_dir (ws, path, prefix, e) < 0)
            return -1;
        }
      else if (t != WS_DIR && slash)
        return ws_parent_error (e, path, ENOTDIR);
      /* The last component: an existing entry is not an error (as before).  */
      p = slash ? slash + 1 : NULL;
    }
  res->data = cJSON_CreateObject ();
  return 0;
}

/* Whether the merged directory NORM has no entries.  */
static int
dir_empty (struct broker_workspace *ws, const char *path, const char *norm, bool *empty,
           struct ws_error *e)
{
  struct ws_result sub = { .fd = -1, .bytes = -1 };

  if (ws_op_list (ws, path, norm, &sub, e) < 0)
    return -1;
  *empty = cJSON_GetArraySize (cJSON_GetObjectItemCaseSensitive (sub.data, "names")) == 0;
  cJSON_Delete (sub.data);
  return 0;
}

int
ws_op_remove (struct broker_workspace *ws, const char *path, const char *norm,
              struct ws_result *res, struct ws_error *e)
{
  const char *rest;
  size_t r = ws_pick_root (ws, norm, &rest);

  if (ws_may_write (ws, r, path, norm, e) < 0)
    return -1;
  if (rest[0] == '\0' || ws_volume_parent (ws, norm))
    return ws_fail (e, "FileError", "'%.300s': %s", path,
                    strcmp (norm, ".") == 0
                        ? "the workspace itself cannot be removed"
                        : "a volume is mounted there (Device or resource busy)");
  if (r == 0 && ws->ov)
    {
      enum ws_type t, lt;
      off_t size;
      bool empty = true;
      if (ws_merged_stat (ws, path, norm, &t, &size, e) < 0
          || (t != WS_NONE && ws_lower_stat (ws, 0, rest, path, &lt, &size, e) < 0))
        return -1;
      if (t == WS_NONE)
        return ws_errno (e, path, ENOENT);
      if (t == WS_DIR && dir_empty (ws, path, norm, &empty, e) < 0)
        return -1;
      if (!empty)
        return ws_errno (e, path, ENOTEMPTY);
      if (overlay_remove (ws->ov, norm, lt != WS_NONE) < 0)
        return ws_errno (e, path, errno == EMFILE ? ENOSPC : errno);
    }
  else
    {
      char buf[WS_PATH_MAX];
      const char *base;
      cleanup_close int dir = ws_open_parent (ws, ws->roots[r].fd, rest, buf, sizeof buf, &base);
      if (dir < 0)
        return ws_parent_error (e, path, errno);
      if (unlinkat (dir, base, 0) < 0)
        {
          if (errno != EISDIR || unlinkat (dir, base, AT_REMOVEDIR) < 0)
            return ws_errno (e, path, errno);
        }
    }
  res->data = cJSON_CreateObject ();
  return 0;
}

int
ws_op_rename (struct broker_workspace *ws, const char *from, const char *nfrom, const char *to,
              const char *nto, struct ws_result *res, struct ws_error *e)
{
  const char *rf, *rt;
  size_t r1 = ws_pick_root (ws, nfrom, &rf), r2 = ws_pick_root (ws, nto, &rt);

  if (ws_may_write (ws, r1, from, nfrom, e) < 0 || ws_may_write (ws, r2, to, nto, e) < 0)
    return -1;
  if (rf[0] == '\0' || rt[0] == '\0' || ws_volume_parent (ws, nfrom) || ws_volume_parent (ws, nto))
    return ws_fail (
        e, "FileError",
        "'%.300s' -> '%.300s': a mount point cannot be renamed (Device or resource busy)", from,
        to);
  if (r1 != r2)
    return ws_fail (e, "FileError",
                    "'%.300s' -> '%.300s': Invalid cross-device link (the workspace and a volume, "
                    "or two volumes)",
                    from, to);
  if (r1 == 0 && ws->ov)
    {
      enum ws_type t, lt;
      off_t size;
      int memfd = -1, m;
      if (ws_merged_stat (ws, from, nfrom, &t, &size, e) < 0)
        return -1;
      if (t == WS_NONE)
        return ws_errno (e, from, ENOENT);
      if (t == WS_DIR)
        return ws_fail (e, "FileError",
                        "'%.300s': renaming a directory is not supported in an overlay workspace "
                        "(Invalid cross-device link, as overlayfs)",
                        from);
      if (t != WS_FILE)
        return ws_fail (e, "FileError", "'%.300s': not a regular file", from);
      if (ws_need_parent_dir (ws, to, nto, e) < 0
          || ws_merged_stat (ws, to, nto, &lt, &size, e) < 0)
        return -1;
      if (lt == WS_DIR)
        return ws_errno (e, to, EISDIR);
      if (strcmp (nfrom, nto) == 0)
        goto done;
      if (overlay_lookup (ws->ov, nfrom, &memfd) == OVERLAY_FILE)
        m = fcntl (memfd, F_DUPFD_CLOEXEC, 0);
      else
        {
          int src = ws_lower_open_read (ws, 0, rf, from, &size, e);
          if (src < 0)
            return -1;
          if (!overlay_fits (ws->ov, nto, (uint64_t) size))
            {
              close (src);
              return ws_errno (e, to, ENOSPC);
            }
          m = ws_copy_to_memfd (src, size);
          close (src);
          if (m >= 0)
            fcntl (m, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
        }
      if (m < 0)
        return ws_errno (e, from, errno);
      if (ws_lower_stat (ws, 0, rf, from, &lt, &size, e) < 0)
        {
          close (m);
          return -1;
        }
      if (overlay_remove (ws->ov, nfrom, lt != WS_NONE) < 0
          || overlay_put_file (ws->ov, nto, m) < 0)
        return ws_errno (e, to, errno == EMFILE ? ENOSPC : errno);
    }
  else
    {
      char b1[WS_PATH_MAX], b2[WS_PATH_MAX];
      const char *base1, *base2;
      cleanup_close int d1 = ws_open_parent (ws, ws->roots[r1].fd, rf, b1, sizeof b1, &base1);
      cleanup_close int d2 = -1;
      if (d1 < 0)
        return ws_parent_error (e, from, errno);
      d2 = ws_open_parent (ws, ws->roots[r2].fd, rt, b2, sizeof b2, &base2);
      if (d2 < 0)
        return ws_parent_error (e, to, errno);
      if (renameat (d1, base1, d2, base2) < 0)
        return ws_errno (e, from, errno);
    }
done:
  snprintf (res->to, sizeof res->to, "%s", to);
  res->data = cJSON_CreateObject ();
  return 0;
}
