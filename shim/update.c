/* update: change a container's cgroup v2 resources.
 *
 *   update --resources FILE|- ID        (LinuxResources JSON; '-' is stdin:
 *                                        containerd's shim, podman)
 *   update [--memory N] [--memory-swap N] [--memory-reservation N]
 *          [--pids-limit N] [--cpu-quota N] [--cpu-period N] [--cpu-share N]
 *          [--cpuset-cpus L] [--cpuset-mems L] [--blkio-weight N] ID
 *
 * Sizes take k/m/g suffixes; -1 means unlimited.  Controllers a new limit
 * needs are enabled on the way down, as at create.  */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim/cgroup_systemd.h"
#include "shim/runc.h"

static int
parse_num (const char *flag, const char *s, bool size, int64_t *out, struct tr_error *err)
{
  char *end;
  long long v;
  int shift = 0;

  errno = 0;
  v = strtoll (s, &end, 10);
  if (errno || end == s)
    return tr_fail (err, 0, "update: --%s \"%s\": not a number", flag, s);
  if (size && *end)
    {
      switch (tolower ((unsigned char) *end))
        {
        case 'k':
          shift = 10;
          break;
        case 'm':
          shift = 20;
          break;
        case 'g':
          shift = 30;
          break;
        case 'b':
          break;
        default:
          return tr_fail (err, 0, "update: --%s \"%s\": bad unit", flag, s);
        }
      end++;
      if (*end == 'b' || *end == 'B')
        end++;
    }
  if (*end)
    return tr_fail (err, 0, "update: --%s \"%s\": not a number", flag, s);
  *out = v < 0 ? -1 : v << shift;
  return 0;
}

int
runc_cmd_update (int argc, char **argv)
{
  struct tr_error err;
  const char *resources = NULL, *memory = NULL, *swap = NULL, *reservation = NULL, *pids = NULL,
             *quota = NULL, *period = NULL, *shares = NULL, *cpus = NULL, *mems = NULL,
             *blkio = NULL, *kmem = NULL, *kmem_tcp = NULL, *rt_period = NULL, *rt_runtime = NULL,
             *l3 = NULL, *mba = NULL;
  const struct optdef defs[] = {
    { "resources", 'r', OPT_STR, &resources },
    { "memory", 0, OPT_STR, &memory },
    { "memory-swap", 0, OPT_STR, &swap },
    { "memory-reservation", 0, OPT_STR, &reservation },
    { "pids-limit", 0, OPT_STR, &pids },
    { "cpu-quota", 0, OPT_STR, &quota },
    { "cpu-period", 0, OPT_STR, &period },
    { "cpu-share", 0, OPT_STR, &shares },
    { "cpuset-cpus", 0, OPT_STR, &cpus },
    { "cpuset-mems", 0, OPT_STR, &mems },
    { "blkio-weight", 0, OPT_STR, &blkio },
    { "kernel-memory", 0, OPT_STR, &kmem },
    { "kernel-memory-tcp", 0, OPT_STR, &kmem_tcp },
    { "cpu-rt-period", 0, OPT_STR, &rt_period },
    { "cpu-rt-runtime", 0, OPT_STR, &rt_runtime },
    { "l3-cache-schema", 0, OPT_STR, &l3 },
    { "mem-bw-schema", 0, OPT_STR, &mba },
    { NULL, 0, 0, NULL },
  };
  struct ct_resources res;
  struct ct_state st;
  struct ct_cgroup cg;
  int64_t v;
  int i, r;

  tr_error_clear (&err);
  memset (&res, 0, sizeof res);
  i = opts_parse ("update", argc, argv, defs, &err);
  if (i < 0)
    return log_fail (&err);
  if (argc - i != 1)
    {
      tr_fail (&err, 0, "update: exactly one container id is needed");
      return log_fail (&err);
    }
  if (kmem || kmem_tcp || rt_period || rt_runtime || l3 || mba)
    {
      tr_fail (&err, 0,
               "update: kernel memory, realtime and Intel RDT limits do not exist in "
               "cgroup v2");
      return log_fail (&err);
    }
  if (resources)
    {
      char *text = NULL;
      cJSON *j;
      if (strcmp (resources, "-") == 0)
        r = read_whole_file ("/dev/stdin", 1 << 20, &text, NULL, &err);
      else
        r = read_whole_file (resources, 1 << 20, &text, NULL, &err);
      if (r < 0)
        return log_fail (&err);
      j = cJSON_Parse (text);
      free (text);
      if (j == NULL)
        {
          tr_fail (&err, 0, "update --resources: invalid JSON");
          return log_fail (&err);
        }
      ar_track_json (j);
      if (oci_resources_parse (j, "", &res, &err) < 0)
        return log_fail (&err);
      if (res.n_devices)
        log_warn ("update: device rules are not updated");
    }
#define NUM(s, flag, size, stmt)                                                                   \
  if (s)                                                                                           \
    {                                                                                              \
      if (parse_num (flag, s, size, &v, &err) < 0)                                                 \
        return log_fail (&err);                                                                    \
      stmt;                                                                                        \
    }
  NUM (memory, "memory", true, (res.has_memory = true, res.memory_limit = v ? v : -1));
  NUM (swap, "memory-swap", true, (res.has_memory = true, res.memory_swap = v ? v : -1));
  NUM (reservation, "memory-reservation", true,
       (res.has_memory = true, res.memory_reservation = v));
  NUM (pids, "pids-limit", false, (res.has_pids = true, res.pids_limit = v <= 0 ? -1 : v));
  NUM (quota, "cpu-quota", false, res.cpu_quota = v ? v : -1);
  NUM (period, "cpu-period", false, res.cpu_period = (uint64_t) (v < 0 ? 0 : v));
  NUM (shares, "cpu-share", false, res.cpu_shares = (uint64_t) (v < 0 ? 0 : v));
  NUM (blkio, "blkio-weight", false, res.blkio_weight = (uint16_t) (v < 0 ? 0 : v));
#undef NUM
  if (cpus)
    res.cpus = cpus;
  if (mems)
    res.mems = mems;
  if (state_load (argv[i], &st, &err) < 0)
    return log_fail (&err);
  if (st.status == ST_STOPPED)
    {
      tr_fail (&err, 0, "container not running");
      return log_fail (&err);
    }
  if (cgpath_open (st.cgroup, &cg, &err) < 0)
    return log_fail (&err);
  if (cg.dirfd < 0)
    {
      tr_fail (&err, 0, "update: the container has no cgroup");
      return log_fail (&err);
    }
  r = cgpath_enable_for (&cg, &res, &err);
  if (r == 0)
    r = cgpath_apply (&cg, &res, &err);
  {
    /* A systemd scope: its unit properties too, or systemd would put the
     * old limits back on its next daemon-reload.  */
    char unit[256];
    if (r == 0 && systemd_unit_of (state_dir_of (argv[i]), unit, sizeof unit))
      r = systemd_cgroup_set (unit, &res, &err);
  }
  close (cg.dirfd);
  return r < 0 ? log_fail (&err) : 0;
}
