/* delete [--force] ID, with the semantics callers rely on (runc's, which
 * go beyond the spec): a created container can be deleted (its parked init
 * is killed); a running one only with --force (everything in its cgroup
 * is killed first); --force on an unknown id removes any leftover state
 * and succeeds.  Poststop hooks run after the container is gone.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "shim/cgroup_systemd.h"
#include "shim/runc.h"

/* The cgroup an interrupted create left (its path is in the state dir's
 * "cgroup" file): kill what is in it and remove it.  Only a path under the
 * cgroup2 mount is ever touched.  */
static void
remove_breadcrumb_cgroup (const char *id)
{
  char mount[256], path[1024];
  struct ct_cgroup cg;
  struct tr_error err;
  cleanup_close int fd = open (ar_printf ("%s/cgroup", state_dir_of (id)), O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0 || (n = read (fd, path, sizeof path - 1)) <= 0)
    return;
  path[n] = '\0';
  if (cgpath_mount (mount, sizeof mount, &err) < 0 || strncmp (path, mount, strlen (mount)) != 0
      || path[strlen (mount)] != '/' || strstr (path, "/..") != NULL)
    return;
  if (cgpath_open (path, &cg, &err) == 0 && cg.dirfd >= 0)
    cgpath_destroy (&cg, &err);
}

int
runc_cmd_delete (int argc, char **argv)
{
  struct tr_error err;
  bool force = false;
  const struct optdef defs[] = {
    { "force", 'f', OPT_BOOL, &force },
    { NULL, 0, 0, NULL },
  };
  struct ct_state st;
  cleanup_close int lock = -1;
  struct stat sb;
  const char *id;
  int i;

  tr_error_clear (&err);
  i = opts_parse ("delete", argc, argv, defs, &err);
  if (i < 0)
    return log_fail (&err);
  if (argc - i != 1)
    {
      tr_fail (&err, 0, "delete: exactly one container id is needed");
      return log_fail (&err);
    }
  id = argv[i];
  if (validate_id (id, &err) < 0)
    return log_fail (&err);
  lock = state_lock (id, &err);
  if (lock < 0)
    {
      if (force && stat (state_dir_of (id), &sb) < 0)
        return 0;
      return log_fail (&err);
    }
  if (state_load (id, &st, &err) < 0)
    {
      if (force)
        {
          /* A failed or interrupted create: its cgroup (if the create got
           * that far) and the directory.  */
          remove_breadcrumb_cgroup (id);
          systemd_scope_gone (state_dir_of (id));
          state_remove (id);
          return 0;
        }
      return log_fail (&err);
    }
  if ((st.status == ST_RUNNING || st.status == ST_PAUSED) && !force)
    {
      tr_fail (&err, 0, "cannot delete container %s that is not stopped: %s", id,
               status_names[st.status]);
      return log_fail (&err);
    }
  if (destroy_container (&st, &err) < 0)
    return log_fail (&err);
  return 0;
}
