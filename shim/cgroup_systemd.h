/* The systemd cgroup driver (--systemd-cgroup with a "slice:prefix:name"
 * linux.cgroupsPath), as runc and crun implement it: the container's cgroup
 * is a transient scope unit that systemd creates over D-Bus
 * (StartTransientUnit, Delegate=yes, the limits as unit properties), so
 * that systemd — which owns the slices above it — knows and keeps it.
 * libsystemd is loaded with dlopen only on this path: the cgroupfs driver
 * and tactus-run's own runs never load it.  */
#ifndef TR_SHIM_CGROUP_SYSTEMD_H
#define TR_SHIM_CGROUP_SYSTEMD_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"
#include "sandbox/container.h"

struct sd_cgroup_path
{
  char slice[256]; /* e.g. "kubepods-besteffort.slice" */
  char unit[256];  /* e.g. "cri-containerd-ID.scope" */
  char rel[1024];  /* under the cgroup2 mount:
                      "/kubepods.slice/kubepods-besteffort.slice/cri-containerd-ID.scope" */
};

/* True when P has the systemd form (relative, with a ':').  */
bool systemd_cgroup_is_unit_path (const char *p);

/* Parse "slice:prefix:name" (runc's rules: an empty slice is
 * system.slice, an empty prefix gives "name.scope", otherwise
 * "prefix-name.scope"; an empty P is "system.slice:tactus-runc:ID").
 * Names are checked against systemd's unit-name rules.  */
int systemd_cgroup_parse (const char *p, const char *id, struct sd_cgroup_path *out,
                          struct tr_error *err);

/* "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice" ("-.slice" -> "").  */
int systemd_slice_expand (const char *slice, char *out, size_t size, struct tr_error *err);

/* Start the transient scope P->unit in P->slice with Delegate=yes and the
 * limits of RES as properties, holding a placeholder process (a scope
 * cannot start empty); wait for the job; open the scope's cgroup into CG
 * and write RES there too (as runc does).  *HOLDER is the placeholder:
 * release it with systemd_cgroup_release once the container's init is in
 * the scope.  */
int systemd_cgroup_create (const struct sd_cgroup_path *p, const struct ct_resources *res,
                           struct ct_cgroup *cg, pid_t *holder, struct tr_error *err);
void systemd_cgroup_release (pid_t holder);

/* StopUnit (best effort: a scope systemd has already collected is fine).  */
int systemd_cgroup_stop (const char *unit, struct tr_error *err);

/* SetUnitProperties(runtime) with the limits of RES, so that systemd does
 * not put back the old values on its next daemon-reload (update).  */
int systemd_cgroup_set (const char *unit, const struct ct_resources *res, struct tr_error *err);

/* The state directory's record of the unit ("systemd-unit"): written at
 * create, read by update and delete.  Returns false when there is none.  */
int systemd_unit_record (const char *state_dir, const char *unit, struct tr_error *err);
bool systemd_unit_of (const char *state_dir, char *unit, size_t size);
/* The container in STATE_DIR is gone: stop its scope, if it has one.  */
void systemd_scope_gone (const char *state_dir);

#endif
