/* pause / resume: the cgroup v2 freezer (cgroup.freeze, completion read
 * from cgroup.events).  Where the container has no cgroup v2 directory the
 * error says so.  */
#define _GNU_SOURCE
#include <unistd.h>

#include "shim/runc.h"

static int
freeze_cmd (const char *name, bool freeze, int argc, char **argv)
{
  struct tr_error err;
  const struct optdef defs[] = { { NULL, 0, 0, NULL } };
  struct ct_state st;
  struct ct_cgroup cg;
  int i, r;

  tr_error_clear (&err);
  i = opts_parse (name, argc, argv, defs, &err);
  if (i < 0)
    return log_fail (&err);
  if (argc - i != 1)
    {
      tr_fail (&err, 0, "%s: exactly one container id is needed", name);
      return log_fail (&err);
    }
  if (state_load (argv[i], &st, &err) < 0)
    return log_fail (&err);
  if (freeze && st.status != ST_RUNNING)
    {
      tr_fail (&err, 0,
               st.status == ST_PAUSED ? "container already paused" : "container not running");
      return log_fail (&err);
    }
  if (!freeze && st.status != ST_PAUSED)
    {
      tr_fail (&err, 0, "container not paused");
      return log_fail (&err);
    }
  if (cgpath_open (st.cgroup, &cg, &err) < 0)
    return log_fail (&err);
  r = cgpath_freeze (&cg, freeze, &err);
  if (cg.dirfd >= 0)
    close (cg.dirfd);
  return r < 0 ? log_fail (&err) : 0;
}

int
runc_cmd_pause (int argc, char **argv)
{
  return freeze_cmd ("pause", true, argc, argv);
}

int
runc_cmd_resume (int argc, char **argv)
{
  return freeze_cmd ("resume", false, argc, argv);
}
