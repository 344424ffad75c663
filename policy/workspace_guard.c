#define _GNU_SOURCE
#include "policy/workspace_guard.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/userdir.h"

/* INNER is OUTER or beneath it (both canonical).  */
static bool
within (const char *inner, const char *outer)
{
  size_t n = strlen (outer);
  if (strcmp (outer, "/") == 0)
    return true;
  return strncmp (inner, outer, n) == 0 && (inner[n] == '\0' || inner[n] == '/');
}

/* PATH made canonical even when its end does not exist yet (a run could
 * create it): the real path of its deepest existing ancestor, then the
 * rest as written.  */
static void
canonical (const char *path, char *out)
{
  char buf[PATH_MAX], real[PATH_MAX];
  char *slash;

  snprintf (buf, sizeof buf, "%s", path);
  for (;;)
    {
      if (realpath (buf, real))
        {
          const char *rest = path + strlen (buf); /* "" or "/..." */
          if (strcmp (real, "/") == 0)
            snprintf (out, PATH_MAX, "%s", rest[0] ? rest : "/");
          else
            snprintf (out, PATH_MAX, "%s%s", real, rest);
          return;
        }
      slash = strrchr (buf, '/');
      if (slash == NULL || slash == buf)
        {
          snprintf (out, PATH_MAX, "%s", path);
          return;
        }
      *slash = '\0';
    }
}

int
workspace_guard (const char *dir, struct tr_error *err)
{
  const char *home = userdir_home ();
  char ws[PATH_MAX], p[PATH_MAX], state[PATH_MAX], rundir[PATH_MAX], dot[PATH_MAX];
  struct tr_error ignored;

  if (realpath (dir, ws) == NULL)
    return tr_fail (err, errno, "the workspace %s", dir);
  if (strcmp (ws, "/") == 0)
    return tr_fail (err, 0, "refusing / as a read-write workspace: it is the whole file system");
  if (home)
    {
      canonical (home, p);
      if (strcmp (ws, p) == 0)
        return tr_fail (err, 0,
                        "refusing %s as a read-write workspace: it is your home directory "
                        "(a run could rewrite your shell's rc files, ~/.ssh, ~/.gitconfig or "
                        "~/.tactus/config.yml)",
                        ws);
      if (within (p, ws))
        return tr_fail (err, 0,
                        "refusing %s as a read-write workspace: your home directory %s is "
                        "inside it",
                        ws, p);
      snprintf (dot, sizeof dot, "%s/.tactus", home);
      canonical (dot, p);
      if (within (p, ws))
        return tr_fail (err, 0,
                        "refusing %s as a read-write workspace: it contains %s, whose config "
                        "every run trusts",
                        ws, p);
    }
  if (userdir_state_path (state, sizeof state, &ignored) == 0)
    {
      canonical (state, p);
      if (within (p, ws))
        return tr_fail (err, 0,
                        "refusing %s as a read-write workspace: it contains tactus-run's state "
                        "%s (the trust store, the checkpoint key and records)",
                        ws, p);
    }
  userdir_runtime_path (rundir, sizeof rundir);
  canonical (rundir, p);
  if (within (p, ws))
    return tr_fail (err, 0,
                    "refusing %s as a read-write workspace: it contains the warm pool's "
                    "socket directory %s",
                    ws, p);
  return 0;
}
