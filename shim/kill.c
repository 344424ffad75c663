/* kill [--all] ID [SIGNAL]: SIGNAL is a number, NAME or SIGNAME (runc's
 * rules; default SIGTERM).  The init is signalled through a pidfd opened
 * after checking its start time, so a recycled pid is never hit.  --all
 * signals every process in the container's cgroup (cgroup.kill for
 * SIGKILL), also once the init has stopped.  Signal 0 only checks.  A
 * stopped container gives runc's "container not running" (without --all),
 * which containerd's shim treats as "already finished".  */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "shim/runc.h"

int
runc_cmd_kill (int argc, char **argv)
{
  struct tr_error err;
  bool all = false;
  const struct optdef defs[] = {
    { "all", 'a', OPT_BOOL, &all },
    { NULL, 0, 0, NULL },
  };
  struct ct_state st;
  cleanup_close int fd = -1;
  int sig = SIGTERM, i;

  tr_error_clear (&err);
  i = opts_parse ("kill", argc, argv, defs, &err);
  if (i < 0)
    return log_fail (&err);
  if (argc - i < 1 || argc - i > 2)
    {
      tr_fail (&err, 0, "kill: usage: kill [--all] ID [SIGNAL]");
      return log_fail (&err);
    }
  /* Signal 0 checks that the container is there (as kill(2) and runc).  */
  if (argc - i == 2 && strcmp (argv[i + 1], "0") == 0)
    sig = 0;
  else if (argc - i == 2 && parse_signal (argv[i + 1], &sig) < 0)
    {
      tr_fail (&err, 0, "kill: unknown signal \"%s\"", argv[i + 1]);
      return log_fail (&err);
    }
  if (state_load (argv[i], &st, &err) < 0)
    return log_fail (&err);
  /* --all on a stopped container still reaches what is left in its
   * cgroup (a process of a shared pid namespace outlives the init), as
   * runc.  */
  if (st.status == ST_STOPPED && !all)
    {
      tr_fail (&err, 0, "container not running");
      return log_fail (&err);
    }
  if (all)
    {
      struct ct_cgroup cg;
      if (cgpath_open (st.cgroup, &cg, &err) < 0)
        {
          /* A stopped container's cgroup may be gone already (systemd
           * removes an empty scope): nothing is left to signal, and
           * containerd's shim reads "container not running" as done.  */
          if (st.status == ST_STOPPED && err.errnum == ENOENT)
            {
              tr_error_clear (&err);
              tr_fail (&err, 0, "container not running");
            }
          return log_fail (&err);
        }
      if (cg.dirfd < 0)
        {
          tr_fail (&err, 0,
                   st.status == ST_STOPPED ? "container not running"
                                           : "kill --all: the container has no cgroup");
          return log_fail (&err);
        }
      if (cgpath_signal_all (&cg, sig, &err) < 0)
        {
          close (cg.dirfd);
          return log_fail (&err);
        }
      close (cg.dirfd);
      return 0;
    }
  fd = pidfd_open (st.pid, 0);
  if (fd < 0 || proc_start_time (st.pid, NULL) != st.start_time)
    {
      tr_fail (&err, 0, "container not running");
      return log_fail (&err);
    }
  if (pidfd_send_signal (fd, sig, NULL, 0) < 0)
    {
      if (errno == ESRCH)
        tr_fail (&err, 0, "container not running");
      else
        tr_fail (&err, errno, "kill %s", st.id);
      return log_fail (&err);
    }
  return 0;
}
