/* The state directory: ROOT/ID/ holds
 *   state.json   what later commands need (pid + start time, bundle,
 *                rootfs, cgroup, created, owner, annotations)
 *   config.json  the config as it was at create time (later edits of the
 *                bundle's config.json have no effect, as the spec asks)
 *   exec.fifo    while the init waits for start (as runc's)
 * ROOT is 0700 and so is every ID directory.
 *
 * The status is never stored: it is computed from the init's /proc entry
 * (its start time guards against pid reuse), the fifo, and cgroup.freeze.  */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "shim/runc.h"

const char *const status_names[] = { "creating", "created", "running", "paused", "stopped" };

const char *
state_dir_of (const char *id)
{
  return ar_printf ("%s/%s", runc_g.root, id);
}

const char *
state_fifo_path (const char *id)
{
  return ar_printf ("%s/%s/exec.fifo", runc_g.root, id);
}

int
state_root_ensure (struct tr_error *err)
{
  if (mkdir_p (runc_g.root, 0700, err) < 0)
    return tr_wrap (err, "state directory");
  return 0;
}

int
state_dir_create (const char *id, struct tr_error *err)
{
  const char *dir = state_dir_of (id);

  if (state_root_ensure (err) < 0)
    return -1;
  if (mkdir (dir, 0700) < 0)
    {
      if (errno == EEXIST)
        return tr_fail (err, 0, "container with id exists: %s", id);
      return tr_fail (err, errno, "create the state directory %s", dir);
    }
  return 0;
}

int
state_lock (const char *id, struct tr_error *err)
{
  int fd = open (state_dir_of (id), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    {
      if (errno == ENOENT)
        return tr_fail (err, 0, "container does not exist");
      return tr_fail (err, errno, "open the state of %s", id);
    }
  while (flock (fd, LOCK_EX) < 0)
    if (errno != EINTR)
      {
        int e = errno;
        close (fd);
        return tr_fail (err, e, "lock the state of %s", id);
      }
  return fd;
}

int
state_save (const struct ct_state *st, struct tr_error *err)
{
  cJSON *j = cJSON_CreateObject ();
  char *text;
  int r;

  ar_track_json (j);
  cJSON_AddStringToObject (j, "id", st->id);
  cJSON_AddNumberToObject (j, "pid", st->pid);
  cJSON_AddNumberToObject (j, "start_time", (double) st->start_time);
  cJSON_AddStringToObject (j, "bundle", st->bundle);
  cJSON_AddStringToObject (j, "rootfs", st->rootfs);
  cJSON_AddStringToObject (j, "created", st->created);
  cJSON_AddStringToObject (j, "owner", st->owner ? st->owner : "");
  cJSON_AddStringToObject (j, "cgroup", st->cgroup ? st->cgroup : "");
  cJSON_AddBoolToObject (j, "cgroup_created", st->cgroup_created);
  cJSON_AddBoolToObject (j, "userns", st->userns);
  if (st->annotations)
    cJSON_AddItemToObject (j, "annotations", cJSON_Duplicate (st->annotations, true));
  text = cJSON_PrintUnformatted (j);
  if (text == NULL)
    return tr_fail (err, ENOMEM, "state");
  r = write_file_atomic (ar_printf ("%s/state.json", st->dir), text, strlen (text), 0600, err);
  free (text);
  return r;
}

static const char *
jstr (const cJSON *j, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (j, key);
  return cJSON_IsString (v) ? ar_strdup (v->valuestring) : "";
}

int
state_load (const char *id, struct ct_state *st, struct tr_error *err)
{
  const char *dir;
  char *text = NULL;
  cJSON *j;
  const cJSON *v;
  struct stat sb;

  memset (st, 0, sizeof *st);
  if (validate_id (id, err) < 0)
    return -1;
  dir = state_dir_of (id);
  if (read_whole_file (ar_printf ("%s/state.json", dir), 1 << 20, &text, NULL, err) < 0)
    {
      if (err->errnum == ENOENT)
        {
          if (stat (dir, &sb) == 0)
            return tr_fail (err, 0,
                            "container %s is being created (or its create failed: "
                            "delete --force removes it)",
                            id);
          return tr_fail (err, 0, "container does not exist");
        }
      return -1;
    }
  j = cJSON_Parse (text);
  free (text);
  if (j == NULL)
    return tr_fail (err, 0, "container %s: state.json is corrupt", id);
  ar_track_json (j);
  st->id = ar_strdup (id);
  st->dir = dir;
  st->bundle = jstr (j, "bundle");
  st->rootfs = jstr (j, "rootfs");
  st->created = jstr (j, "created");
  st->owner = jstr (j, "owner");
  st->cgroup = jstr (j, "cgroup");
  v = cJSON_GetObjectItemCaseSensitive (j, "pid");
  st->pid = cJSON_IsNumber (v) ? (pid_t) v->valuedouble : 0;
  v = cJSON_GetObjectItemCaseSensitive (j, "start_time");
  st->start_time = cJSON_IsNumber (v) ? (unsigned long long) v->valuedouble : 0;
  st->cgroup_created = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (j, "cgroup_created"));
  st->userns = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (j, "userns"));
  v = cJSON_GetObjectItemCaseSensitive (j, "annotations");
  st->annotations = cJSON_IsObject (v) ? (cJSON *) v : NULL;
  st->status = state_status (st);
  return 0;
}

enum ct_status
state_status (const struct ct_state *st)
{
  char pstate;
  unsigned long long t;
  struct stat sb;

  if (st->pid <= 0)
    return ST_STOPPED;
  t = proc_start_time (st->pid, &pstate);
  if (t == 0 || t != st->start_time || pstate == 'Z' || pstate == 'X')
    return ST_STOPPED;
  if (lstat (ar_printf ("%s/exec.fifo", st->dir), &sb) == 0)
    return ST_CREATED;
  if (st->cgroup && st->cgroup[0])
    {
      char buf[16];
      struct tr_error e;
      if (read_file_at (AT_FDCWD, ar_printf ("%s/cgroup.freeze", st->cgroup), buf, sizeof buf, &e)
              > 0
          && buf[0] == '1')
        return ST_PAUSED;
    }
  return ST_RUNNING;
}

cJSON *
state_json (const struct ct_state *st, const char *status_override)
{
  cJSON *j = cJSON_CreateObject ();
  enum ct_status s = st->status;

  ar_track_json (j);
  cJSON_AddStringToObject (j, "ociVersion", OCI_VERSION);
  cJSON_AddStringToObject (j, "id", st->id);
  cJSON_AddNumberToObject (j, "pid", s == ST_STOPPED ? 0 : st->pid);
  cJSON_AddStringToObject (j, "status", status_override ? status_override : status_names[s]);
  cJSON_AddStringToObject (j, "bundle", st->bundle);
  cJSON_AddStringToObject (j, "rootfs", st->rootfs);
  cJSON_AddStringToObject (j, "created", st->created);
  if (st->annotations)
    cJSON_AddItemToObject (j, "annotations", cJSON_Duplicate (st->annotations, true));
  cJSON_AddStringToObject (j, "owner", st->owner ? st->owner : "");
  return j;
}

int
state_load_config (const struct ct_state *st, struct oci_config *cfg, struct tr_error *err)
{
  return oci_config_load (st->bundle, ar_printf ("%s/config.json", st->dir), cfg, err);
}

int
state_remove (const char *id)
{
  const char *dir = state_dir_of (id);
  DIR *d = opendir (dir);
  struct dirent *e;

  if (d == NULL)
    return errno == ENOENT ? 0 : -1;
  while ((e = readdir (d)) != NULL)
    {
      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
        continue;
      unlinkat (dirfd (d), e->d_name, 0);
    }
  closedir (d);
  return rmdir (dir);
}

/* ---- state / list ---- */

int
runc_cmd_state (int argc, char **argv)
{
  struct tr_error err;
  struct ct_state st;
  const struct optdef defs[] = { { NULL, 0, 0, NULL } };
  int i;

  tr_error_clear (&err);
  i = opts_parse ("state", argc, argv, defs, &err);
  if (i < 0)
    return log_fail (&err);
  if (argc - i != 1)
    {
      tr_fail (&err, 0, "state: exactly one container id is needed");
      return log_fail (&err);
    }
  if (state_load (argv[i], &st, &err) < 0)
    return log_fail (&err);
  json_print_pretty (state_json (&st, NULL));
  return 0;
}

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

int
runc_cmd_list (int argc, char **argv)
{
  struct tr_error err;
  const char *format = "table";
  bool quiet = false;
  const struct optdef defs[] = {
    { "format", 'f', OPT_STR, &format },
    { "quiet", 'q', OPT_BOOL, &quiet },
    { NULL, 0, 0, NULL },
  };
  cJSON *arr;
  DIR *d;
  struct dirent *e;
  const char **names = NULL;
  size_t n = 0, cap = 0;
  int i;

  tr_error_clear (&err);
  i = opts_parse ("list", argc, argv, defs, &err);
  if (i < 0)
    return log_fail (&err);
  if (strcmp (format, "json") != 0 && strcmp (format, "table") != 0)
    {
      tr_fail (&err, 0, "list: invalid format option: %s (table or json)", format);
      return log_fail (&err);
    }
  d = opendir (runc_g.root);
  if (d)
    {
      while ((e = readdir (d)) != NULL)
        {
          if (e->d_name[0] == '.')
            continue;
          if (n == cap)
            {
              const char **nn;
              cap = cap ? cap * 2 : 16;
              nn = ar_alloc (cap * sizeof *nn);
              if (n)
                memcpy (nn, names, n * sizeof *nn);
              names = nn;
            }
          names[n++] = ar_strdup (e->d_name);
        }
      closedir (d);
    }
  if (n)
    qsort (names, n, sizeof *names, cmp_names);
  arr = cJSON_CreateArray ();
  ar_track_json (arr);
  if (!quiet && strcmp (format, "table") == 0)
    printf ("%-12s %-8s %-10s %-40s %-31s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
            "OWNER");
  for (size_t k = 0; k < n; k++)
    {
      struct ct_state st;
      struct tr_error e2;
      if (state_load (names[k], &st, &e2) < 0)
        continue;
      if (quiet)
        printf ("%s\n", st.id);
      else if (strcmp (format, "table") == 0)
        printf ("%-12s %-8d %-10s %-40s %-31s %s\n", st.id, st.status == ST_STOPPED ? 0 : st.pid,
                status_names[st.status], st.bundle, st.created, st.owner);
      else
        cJSON_AddItemToArray (arr, cJSON_Duplicate (state_json (&st, NULL), true));
    }
  if (!quiet && strcmp (format, "json") == 0)
    {
      char *s = cJSON_PrintUnformatted (arr);
      if (s)
        {
          printf ("%s\n", s);
          free (s);
        }
    }
  return 0;
}
