/* ps [--format table|json] ID [ps options]: the host pids in the
 * container's cgroup.  json is what containerd's shim reads (a JSON array
 * of pids); the table shows PID and command line.  */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim/runc.h"

static int
cmp_pid (const void *a, const void *b)
{
  pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
  return (x > y) - (x < y);
}

int
runc_cmd_ps (int argc, char **argv)
{
  struct tr_error err;
  const char *format = "table";
  const struct optdef defs[] = {
    { "format", 'f', OPT_STR, &format },
    { NULL, 0, 0, NULL },
  };
  struct ct_state st;
  struct ct_cgroup cg;
  pid_t *pids = NULL;
  size_t n = 0;
  int i;

  tr_error_clear (&err);
  i = opts_parse ("ps", argc, argv, defs, &err);
  if (i < 0)
    return log_fail (&err);
  if (argc - i < 1)
    {
      tr_fail (&err, 0, "ps: a container id is needed");
      return log_fail (&err);
    }
  if (strcmp (format, "json") != 0 && strcmp (format, "table") != 0)
    {
      tr_fail (&err, 0, "ps: invalid format option: %s (table or json)", format);
      return log_fail (&err);
    }
  if (state_load (argv[i], &st, &err) < 0)
    return log_fail (&err);
  if (cgpath_open (st.cgroup, &cg, &err) < 0)
    return log_fail (&err);
  if (cg.dirfd >= 0)
    {
      if (cgpath_pids (&cg, &pids, &n, &err) < 0)
        {
          close (cg.dirfd);
          return log_fail (&err);
        }
      close (cg.dirfd);
    }
  else if (st.status != ST_STOPPED)
    {
      /* No cgroup (rootless): the init is all we know of.  */
      pids = malloc (sizeof *pids);
      if (pids)
        {
          pids[0] = st.pid;
          n = 1;
        }
    }
  if (n > 1)
    qsort (pids, n, sizeof *pids, cmp_pid);
  if (strcmp (format, "json") == 0)
    {
      printf ("[");
      for (size_t k = 0; k < n; k++)
        printf ("%s%d", k ? "," : "", (int) pids[k]);
      printf ("]\n");
    }
  else
    {
      printf ("%-8s %s\n", "PID", "CMD");
      for (size_t k = 0; k < n; k++)
        {
          char path[64], cmd[512];
          struct tr_error e;
          int len;
          snprintf (path, sizeof path, "/proc/%d/cmdline", (int) pids[k]);
          len = read_file_at (AT_FDCWD, path, cmd, sizeof cmd, &e);
          for (int c = 0; c < len - 1; c++)
            if (cmd[c] == '\0')
              cmd[c] = ' ';
          printf ("%-8d %s\n", (int) pids[k], len > 0 ? cmd : "?");
        }
    }
  free (pids);
  return 0;
}
