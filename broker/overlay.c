/* The upper layer of an overlay workspace (broker/overlay.h).
 *
 * A run may leave at most OVERLAY_MAX_ENTRIES entries and BUDGET bytes in
 * its files: the layer lives in the broker's memory (memfds charged to the
 * process that writes them, the VM for its own writes) and goes with the
 * run.  A linear table is enough at this size.  */
#define _GNU_SOURCE
#include "broker/overlay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OVERLAY_MAX_ENTRIES 4096

struct overlay_entry
{
  char *path;
  enum overlay_kind kind; /* OVERLAY_FILE, OVERLAY_DIR or OVERLAY_GONE */
  bool opaque;            /* a directory over a whiteout */
  int memfd;              /* OVERLAY_FILE */
};

struct overlay
{
  struct overlay_entry *e;
  size_t n, cap;
  uint64_t budget;
};

struct overlay *
overlay_new (uint64_t budget)
{
  struct overlay *ov = calloc (1, sizeof *ov);

  if (ov)
    ov->budget = budget;
  return ov;
}

static void
drop (struct overlay_entry *e)
{
  if (e->kind == OVERLAY_FILE && e->memfd >= 0)
    close (e->memfd);
  free (e->path);
}

void
overlay_free (struct overlay *ov)
{
  if (ov == NULL)
    return;
  for (size_t i = 0; i < ov->n; i++)
    drop (&ov->e[i]);
  free (ov->e);
  free (ov);
}

static struct overlay_entry *
find (const struct overlay *ov, const char *path, size_t len)
{
  for (size_t i = 0; i < ov->n; i++)
    if (strncmp (ov->e[i].path, path, len) == 0 && ov->e[i].path[len] == '\0')
      return &ov->e[i];
  return NULL;
}

enum overlay_kind
overlay_lookup (const struct overlay *ov, const char *path, int *memfd)
{
  bool lower_hidden = false;
  const struct overlay_entry *e;

  if (strcmp (path, ".") == 0)
    return OVERLAY_LOWER;
  /* Each parent, shortest first: a whiteout or a file ends the walk, an
   * opaque directory hides the lower layer below it.  */
  for (const char *p = strchr (path, '/'); p; p = strchr (p + 1, '/'))
    {
      e = find (ov, path, (size_t) (p - path));
      if (e == NULL)
        continue;
      if (e->kind == OVERLAY_GONE)
        return OVERLAY_GONE;
      if (e->kind == OVERLAY_FILE)
        return OVERLAY_NOTDIR;
      if (e->opaque)
        lower_hidden = true;
    }
  e = find (ov, path, strlen (path));
  if (e == NULL)
    return lower_hidden ? OVERLAY_GONE : OVERLAY_LOWER;
  if (e->kind == OVERLAY_FILE && memfd)
    *memfd = e->memfd;
  return e->kind;
}

bool
overlay_opaque (const struct overlay *ov, const char *path)
{
  const struct overlay_entry *e = find (ov, path, strlen (path));
  return e && e->kind == OVERLAY_DIR && e->opaque;
}

static int
put (struct overlay *ov, const char *path, enum overlay_kind kind, bool opaque, int memfd)
{
  struct overlay_entry *e = find (ov, path, strlen (path));

  if (e)
    {
      if (e->kind == OVERLAY_FILE && e->memfd >= 0 && e->memfd != memfd)
        close (e->memfd);
      e->kind = kind;
      e->opaque = opaque;
      e->memfd = memfd;
      return 0;
    }
  if (ov->n >= OVERLAY_MAX_ENTRIES)
    {
      errno = EMFILE;
      return -1;
    }
  if (ov->n == ov->cap)
    {
      size_t cap = ov->cap ? ov->cap * 2 : 32;
      struct overlay_entry *ne = realloc (ov->e, cap * sizeof *ne);
      if (ne == NULL)
        return -1;
      ov->e = ne;
      ov->cap = cap;
    }
  e = &ov->e[ov->n];
  e->path = strdup (path);
  if (e->path == NULL)
    return -1;
  e->kind = kind;
  e->opaque = opaque;
  e->memfd = memfd;
  ov->n++;
  return 0;
}

static uint64_t
file_size (int fd)
{
  struct stat st;
  return fd >= 0 && fstat (fd, &st) == 0 ? (uint64_t) st.st_size : 0;
}

uint64_t
overlay_used (const struct overlay *ov)
{
  uint64_t used = 0;

  for (size_t i = 0; i < ov->n; i++)
    if (ov->e[i].kind == OVERLAY_FILE)
      used += file_size (ov->e[i].memfd);
  return used;
}

bool
overlay_fits (const struct overlay *ov, const char *path, uint64_t add)
{
  const struct overlay_entry *e = find (ov, path, strlen (path));
  uint64_t used = overlay_used (ov);

  if (e && e->kind == OVERLAY_FILE)
    used -= file_size (e->memfd);
  return used + add <= ov->budget;
}

int
overlay_put_file (struct overlay *ov, const char *path, int memfd)
{
  const struct overlay_entry *e = find (ov, path, strlen (path));

  if (!overlay_fits (ov, path, file_size (memfd)))
    {
      if (e == NULL || e->memfd != memfd)
        close (memfd);
      errno = ENOSPC;
      return -1;
    }
  if (put (ov, path, OVERLAY_FILE, false, memfd) < 0)
    {
      int saved = errno;
      if (e == NULL || e->memfd != memfd)
        close (memfd);
      errno = saved;
      return -1;
    }
  return 0;
}

int
overlay_put_dir (struct overlay *ov, const char *path, bool opaque)
{
  return put (ov, path, OVERLAY_DIR, opaque, -1);
}

int
overlay_remove (struct overlay *ov, const char *path, bool whiteout)
{
  size_t len = strlen (path);

  for (size_t i = 0; i < ov->n;)
    {
      const char *p = ov->e[i].path;
      if (strncmp (p, path, len) == 0 && (p[len] == '\0' || p[len] == '/'))
        {
          drop (&ov->e[i]);
          ov->e[i] = ov->e[--ov->n];
        }
      else
        i++;
    }
  return whiteout ? put (ov, path, OVERLAY_GONE, false, -1) : 0;
}

void
overlay_children (const struct overlay *ov, const char *dir,
                  void (*cb) (void *ctx, const char *name, enum overlay_kind kind), void *ctx)
{
  bool top = strcmp (dir, ".") == 0;
  size_t len = top ? 0 : strlen (dir);

  for (size_t i = 0; i < ov->n; i++)
    {
      const char *p = ov->e[i].path, *name;
      if (!top && (strncmp (p, dir, len) != 0 || p[len] != '/'))
        continue;
      name = top ? p : p + len + 1;
      if (strchr (name, '/') == NULL)
        cb (ctx, name, ov->e[i].kind);
    }
}
