/* Building blocks for containers whose root filesystem is a directory given
 * by the caller (an OCI bundle), as opposed to the sandbox's own tmpfs root.
 * The shim (shim/) turns config.json into these structs; nothing here knows
 * of JSON or of the OCI spec's names.
 *
 *   rootfs.c   the mount tree under a bundle rootfs: mounts resolved inside
 *              the root (openat2 RESOLVE_IN_ROOT), pivot_root, masked and
 *              read-only paths, the read-only root, a verified procfs
 *   devices.c  device nodes (mknod, or binds of the host's in a user
 *              namespace), the /dev symlinks, the cgroup v2 device filter
 *   caps.c     capability sets (libcap-ng), the uid/gid switch
 *   cgpath.c   a cgroup v2 directory at a given path: creation with the
 *              controllers its resources need, resources, freeze, kill  */
#ifndef TR_SANDBOX_CONTAINER_H
#define TR_SANDBOX_CONTAINER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

/* ---- rootfs.c ---- */

struct ct_mount
{
  const char *destination;       /* absolute, inside the container */
  const char *type;              /* NULL or "bind" / "none" for binds */
  const char *source;            /* host path for binds (absolute) */
  bool bind, recursive;          /* bind / rbind */
  uint64_t attr_set, attr_clr;   /* MOUNT_ATTR_* for the top mount */
  uint64_t rattr_set, rattr_clr; /* MOUNT_ATTR_* applied recursively (rro, rnosuid, ...) */
  unsigned long propagation;     /* MS_PRIVATE, MS_SLAVE, ... (0: leave) */
  bool prop_recursive;
  bool tmpcopyup;
  /* filesystem options as fsconfig key/value pairs (value NULL: a flag) */
  const char **data_keys;
  const char **data_values;
  size_t n_data;
  const char *what; /* for messages: "mounts[3]" */
};

struct ct_device
{
  char type;        /* 'c', 'b', 'u' (== 'c'), 'p' */
  const char *path; /* absolute, under /dev */
  uint32_t major, minor;
  mode_t mode; /* permission bits */
  bool has_mode;
  uid_t uid;
  gid_t gid;
  const char *what;
};

struct ct_rootfs
{
  const char *rootfs; /* absolute host path */
  bool readonly;
  const struct ct_mount *mounts;
  size_t n_mounts;
  const struct ct_device *devices;
  size_t n_devices;
  const char *const *masked;
  size_t n_masked;
  const char *const *readonly_paths;
  size_t n_readonly;
  unsigned long propagation; /* rootfsPropagation (MS_*, with MS_REC for the r forms) for the
                              * container's / after pivot_root; 0: rslave */
  bool no_pivot;
  bool userns;    /* device nodes cannot be made: bind the host's */
  bool new_netns; /* sysfs can be mounted fresh */
  bool cgroupns;  /* a cgroup mount can be a fresh cgroup2 */
  const char
      *cgroup_path; /* host path of the container's cgroup (for a cgroup mount without cgroupns) */
  bool console;     /* a terminal was asked for: /dev/console will be bound */
};

/* PATH lexically cleaned into OUT as an absolute path: "/a/b" ("//x",
 * "/./x", "x/" and "/y/../x" are "/x"; ".." stops at "/").  -1 if too long.  */
int ct_clean_path (const char *path, char *out, size_t size);

/* Where a cleaned mount destination lies with respect to /proc (runc's
 * checkProcMount): outside it; /proc itself (only a proc mount may go
 * there, CVE-2019-16884); one of the files lxcfs emulates (/proc/cpuinfo,
 * /proc/meminfo, ...: only a bind of a regular file may go there); or
 * anywhere else under /proc (refused).  */
enum ct_proc_dest
{
  CT_PROC_OUTSIDE,
  CT_PROC_ROOT,
  CT_PROC_FILE,
  CT_PROC_REFUSED,
};
enum ct_proc_dest ct_proc_dest (const char *clean_dest);

/* Before pivot_root: the root bind, every mount, /dev's nodes and links.  */
int rootfs_prepare (const struct ct_rootfs *rs, struct tr_error *err);
/* pivot_root into the prepared root (or move + chroot with no_pivot).  */
int rootfs_pivot (const struct ct_rootfs *rs, struct tr_error *err);
/* After pivot_root: masked paths, read-only paths, the read-only root and
 * the root's propagation.  */
int rootfs_finish (const struct ct_rootfs *rs, struct tr_error *err);

/* Open PATH (absolute or relative) inside ROOTFD, symlinks resolved as if
 * ROOTFD were "/" (RESOLVE_IN_ROOT), never through a magic link.  With
 * MKDIR, missing components are created as directories (a missing last
 * component as a directory when DIR, else as an empty file).  */
int inroot_open (int rootfd, const char *path, int flags, bool create, bool dir,
                 struct tr_error *err);

/* A private procfs mount (fsopen/fsmount, never attached): writes to /proc
 * go through it, opened with no symlinks, no magic links, no mount
 * crossing, and checked to be on procfs.  */
int procfs_open_private (struct tr_error *err);
int procfs_write (int procfd, const char *path, const char *value, struct tr_error *err);

/* ---- devices.c ---- */

/* Create the default device nodes and DEVS under ROOTFD's /dev, and the
 * /dev symlinks.  USERNS: bind the host's nodes instead of mknod.  */
int devices_create (int rootfd, const struct ct_device *devs, size_t n, bool userns,
                    struct tr_error *err);

struct ct_device_rule
{
  bool allow;
  char type;            /* 'a', 'c', 'b' */
  int64_t major, minor; /* -1: any */
  unsigned access;      /* bits: 1 r, 2 w, 4 m */
};
#define CT_DEV_READ 1u
#define CT_DEV_WRITE 2u
#define CT_DEV_MKNOD 4u

/* Attach a BPF_CGROUP_DEVICE program made from RULES (plus the default
 * allow list for the nodes devices_create makes) to the cgroup CGFD.  */
int devices_cgroup_filter (int cgfd, const struct ct_device_rule *rules, size_t n,
                           struct tr_error *err);

/* ---- caps.c ---- */

struct ct_caps
{
  uint64_t bounding, effective, inheritable, permitted, ambient;
};

struct ct_user
{
  uid_t uid;
  gid_t gid;
  const gid_t *groups;
  size_t n_groups;
  bool set_groups; /* setgroups(2) is allowed (not denied for a rootless userns) */
};

/* Capability number from a name ("CAP_NET_ADMIN"); -1 if unknown.  */
int caps_from_name (const char *name);
const char *caps_name (int cap);
/* The kernel's last capability, asked of the kernel (PR_CAPBSET_READ),
 * never read from a /proc/sys file a container could cover; cached, so a
 * call in the runtime before clone3 serves the init and exec'd processes.  */
int caps_last_cap (void);
/* Bounding set first (needs CAP_SETPCAP), then the ids (keeping the
 * permitted set), then effective/permitted/inheritable, then ambient.  */
int caps_drop_bounding (const struct ct_caps *caps, struct tr_error *err);
int caps_switch_user (const struct ct_user *user, struct tr_error *err);
int caps_apply (const struct ct_caps *caps, struct tr_error *err);

/* ---- cgpath.c ---- */

struct ct_resources
{
  bool has_memory;
  int64_t memory_limit;       /* -1: max, 0: unset */
  int64_t memory_reservation; /* 0: unset */
  int64_t memory_swap;        /* memory+swap as OCI (v1) says; 0: unset, -1: max */
  bool has_swappiness;
  bool disable_oom_killer;
  int64_t pids_limit; /* 0: unset, <0: max */
  bool has_pids;
  uint64_t cpu_shares; /* 0: unset */
  int64_t cpu_quota;   /* 0: unset, -1: max */
  uint64_t cpu_period; /* 0: unset */
  bool has_cpu_idle;
  int64_t cpu_idle;
  const char *cpus, *mems;
  uint16_t blkio_weight; /* 0: unset */
  const char **unified_keys, **unified_values;
  size_t n_unified;
  const struct ct_device_rule *devices;
  size_t n_devices;
};

struct ct_cgroup
{
  int dirfd;       /* the container's cgroup directory; -1 when none */
  char path[1024]; /* absolute host path */
  char mount[256]; /* the cgroup2 mount */
  bool shared;     /* cgpath_create: it already held processes */
};

/* Where cgroup2 is mounted (found by type in mountinfo; v1 is never used).  */
int cgpath_mount (char *out, size_t size, struct tr_error *err);
/* Create (or open, when it exists and is empty) the cgroup at REL (a path
 * under the cgroup2 mount), enabling on every ancestor the controllers RES
 * needs.  */
int cgpath_create (const char *rel, const struct ct_resources *res, struct ct_cgroup *cg,
                   struct tr_error *err);
int cgpath_open (const char *abs, struct ct_cgroup *cg, struct tr_error *err);
/* Enable on the ancestors of CG the controllers RES needs (update).  */
int cgpath_enable_for (const struct ct_cgroup *cg, const struct ct_resources *res,
                       struct tr_error *err);
/* Write RES to the cgroup (create and update).  */
int cgpath_apply (const struct ct_cgroup *cg, const struct ct_resources *res, struct tr_error *err);
int cgpath_freeze (const struct ct_cgroup *cg, bool freeze, struct tr_error *err);
/* 1 frozen, 0 not, -1 unknown */
int cgpath_frozen (const struct ct_cgroup *cg);
/* Pids in the cgroup (and its descendants); *OUT malloc'd.  */
int cgpath_pids (const struct ct_cgroup *cg, pid_t **out, size_t *n, struct tr_error *err);
/* SIGNO to every process (cgroup.kill for SIGKILL when available).  */
int cgpath_signal_all (const struct ct_cgroup *cg, int signo, struct tr_error *err);
/* Kill what is left, wait until empty, remove the directory.  */
int cgpath_destroy (struct ct_cgroup *cg, struct tr_error *err);
bool cgpath_has_controller (const char *mount, const char *ctrl);

#endif
