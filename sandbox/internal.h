/* Internal interfaces between the files of sandbox/.  One file per concern:
 *   launch.c   the parent side: prepare, clone3, id maps, deadline, reap
 *   child.c    the order of the steps inside the new namespaces
 *   mounts.c   the tmpfs root, binds, /proc, /dev, pivot_root
 *   net.c      loopback up in the empty network namespace (libnl)
 *   cgroup.c   the per-run cgroup v2 directory, limits, kill, removal
 *   privs.c    securebits, no_new_privs, capabilities (libcap-ng)
 *   seccomp.c  profile compilation (libseccomp), the on-disk cache, loading
 *   rlimits.c  resource limits
 *   probe.c    what this host supports, for `sandbox status`  */
#ifndef TR_SANDBOX_INTERNAL_H
#define TR_SANDBOX_INTERNAL_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/sandbox.h"

/* The broker end of the socketpair is always this fd inside the sandbox.  */
#define SANDBOX_BROKER_FD 3

/* ---- cgroup.c ---- */
struct sandbox_cgroup
{
  int dirfd;              /* the run's cgroup directory, -1 when none */
  char path[512];         /* absolute path, for messages */
  bool memory, pids, cpu; /* limits applied through the cgroup */
};

struct cgroup_info
{
  bool v2;                 /* a cgroup2 hierarchy is mounted */
  bool writable;           /* we can create a child cgroup in it */
  char mount[256];         /* where cgroup2 is mounted */
  char base[512];          /* the directory run cgroups are created in */
  char controllers[256];   /* controllers available to the run cgroups */
  bool memory, pids, cpu;  /* limits a run cgroup can get here */
  char reason[256];        /* why not, when !v2 or !writable */
  char limits_reason[300]; /* why some limit is unavailable */
};

int cgroup_inspect (struct cgroup_info *info);
/* Where cgroup2 is mounted, from mountinfo (by type; v1 is never used).  */
int find_cgroup2_mount (char *out, size_t size);
/* Create the run's cgroup and write the limits; CG->dirfd = -1 when cgroups
 * cannot be used here and REQUIRE is false.  */
int cgroup_create (const struct sandbox_limits *lim, bool require, struct sandbox_cgroup *cg,
                   struct tr_error *err);
void cgroup_kill (const struct sandbox_cgroup *cg);
bool cgroup_oom_killed (const struct sandbox_cgroup *cg);
uint64_t cgroup_cpu_usec (const struct sandbox_cgroup *cg);
void cgroup_destroy (struct sandbox_cgroup *cg);

/* ---- seccomp_compile.c, seccomp.c ---- */
struct seccomp_program
{
  struct sock_fprog prog;
  bool builtin; /* points into the binary's read-only data, not malloc'd */
};

/* Filters stacked on the native profile (child.c), numbered after the
 * profiles a spec selects: they are programs of their own, built in the
 * same way, but never a cage's only filter.  */
enum seccomp_addon
{
  SECCOMP_ADDON_NOUNIX = SANDBOX_SECCOMP__COUNT, /* no AF_UNIX socket */
  SECCOMP_ADDON_SUPERVISE_CREATE,                /* name-creating calls to the supervisor */
  SECCOMP_ADDON_SUPERVISE_CONNECT,               /* connect to the supervisor */
  SECCOMP_ADDON_SUPERVISE_ALL,                   /* both */
  SECCOMP_PROGRAMS__COUNT,
};

const char *seccomp_profile_name (enum sandbox_seccomp which);
/* The profile's text, as built into the binary.  */
const char *seccomp_profile_text (enum sandbox_seccomp which, size_t *len);
/* The program built into the binary at build time (no compilation, no
 * file read).  */
int seccomp_program_get (enum sandbox_seccomp which, struct seccomp_program *out,
                         struct tr_error *err);
/* Compile from the profile text with libseccomp (build time, checks).  */
int seccomp_program_compile (enum sandbox_seccomp which, struct seccomp_program *out,
                             struct tr_error *err);
void seccomp_program_free (struct seccomp_program *p);
/* A libseccomp filter context (scmp_filter_ctx) as a BPF program.  */
int export_bpf (void *ctx, struct seccomp_program *out, struct tr_error *err);
/* Install it on the calling process (after no_new_privs).  */
int seccomp_program_load (const struct seccomp_program *p, struct tr_error *err);
/* The same, returning a user-notification listener (the filter must have
 * notify rules; one listener per process).  */
int seccomp_program_load_listener (const struct seccomp_program *p, struct tr_error *err);

struct seccomp_check
{
  unsigned builtin_insns, compiled_insns;
  bool match; /* the built-in program is what the profile compiles to here */
};
int seccomp_builtin_verify (enum sandbox_seccomp which, struct seccomp_check *out,
                            struct tr_error *err);
/* Program files an older version cached in DIR (filled in); REMOVE
 * deletes them.  Returns 0 or -errno.  */
int seccomp_legacy_cache (char *dir, size_t size, bool remove, int *found);

/* ---- privs.c ---- */
int privs_drop_all (struct tr_error *err);
/* Check that no capability is left in any set (used by tests and status).  */
int privs_verify_none (struct tr_error *err);

/* ---- rlimits.c ---- */
int rlimits_apply (const struct sandbox_limits *lim, bool cgroup_memory, bool cgroup_pids,
                   struct tr_error *err);

/* ---- net.c ---- */
int net_loopback_up (struct tr_error *err);
/* A TCP socket listening on 127.0.0.1:PORT in the current network
 * namespace (the cage's), close-on-exec.  */
int net_listen_loopback (uint16_t port, struct tr_error *err);

/* ---- mounts.c ---- */
struct mounts_ctx
{
  int workspace_mnt;       /* a detached tree of it made by the parent, or -1 */
  const char *ws_path;     /* else: the path to clone here, or NULL for none */
  uint64_t ws_dev, ws_ino; /* the directory the parent opened */
};
int mounts_build_root (const struct sandbox_spec *spec, const struct mounts_ctx *ctx,
                       struct tr_error *err);
/* Shared with rootfs.c (OCI bundle roots).  */
int sys_openat2 (int dirfd, const char *path, int flags, unsigned long long resolve);
int attach (int mntfd, int targetfd, const char *what, struct tr_error *err);
int set_attrs (int mntfd, uint64_t set, bool recursive, const char *what, struct tr_error *err);
/* fsopen TYPE, OPTS as key/value pairs (value NULL: a flag), fsmount.  */
int new_fs (const char *type, const char *const *opts, uint64_t attrs, struct tr_error *err);

/* ---- protect.c ---- */
/* Whether the cage of SPEC can write a host directory (a read-write
 * workspace or bind): then protected paths and the supervisor apply.  */
bool protect_needed (const struct sandbox_spec *spec);
/* Inside the cage, after pivot_root: every protected entry that exists
 * under a writable workspace or bind is bound read-only over itself.  */
int protect_existing (const struct sandbox_spec *spec, struct tr_error *err);

/* ---- supervise.c ---- */
struct supervisor_config
{
  int listener; /* the seccomp user-notification fd */
  pid_t pid1;   /* the cage's PID 1 (host pid) */
  bool root_caller;
  uid_t uid;                          /* the host ids the cage's root maps to: the supervisor */
  gid_t gid;                          /* acts as them */
  const char *const *protected_paths; /* NULL: protected_defaults */
  bool create, connect;               /* what the filter sends */
  struct supervisor_socket
  {
    dev_t dev;
    ino_t ino;
  } * sockets; /* unix sockets the cage may reach */
  size_t n_sockets;
  const char *socket_hint; /* the spec's unix_socket_hint */
};
/* Whether a supervisor can serve a cage here (Yama ptrace scope).  */
int supervisor_possible (bool root_caller, struct tr_error *err);
/* Fork the supervisor (a child of the launcher, killed with it).  */
pid_t supervisor_start (const struct supervisor_config *c, struct tr_error *err);

/* ---- child.c ---- */
struct child_ctx
{
  const struct sandbox_spec *spec;
  int sync_fd;
  int broker_fd;
  bool root_caller;
  const struct seccomp_program *seccomp;
  bool cgroup_memory, cgroup_pids;
  int devnull;   /* the host's /dev/null, opened before the mounts, for stdio */
  void *payload; /* the run's payload from the go message, or NULL */
  size_t payload_len;
};
_Noreturn void child_main (struct child_ctx *ctx);

/* Messages on the setup socket.  */
enum
{
  SYNC_GO = 'G',        /* parent -> child: struct sync_go, id maps written, carry on */
  SYNC_MAPS = 'M',      /* parent -> child (a sealed cage): id maps written, set up now */
  SYNC_READY = 'R',     /* child -> parent: payload about to run */
  SYNC_ERROR = 'E',     /* child -> parent: struct tr_error follows */
  SYNC_LISTENER = 'L',  /* child -> parent: the supervised filter's listener (SCM_RIGHTS) */
  SYNC_NETLISTEN = 'N', /* child -> parent: its loopback listening socket (SCM_RIGHTS) */
};

enum
{
  SYNC_WS_NONE = 0,
  SYNC_WS_TREE, /* a detached mount tree comes with the message (SCM_RIGHTS) */
  SYNC_WS_PATH, /* clone ws_path here, check ws_dev/ws_ino */
};

/* One packet.  payload_len bytes of payload follow, framed (common/frame.h). */
struct sync_go
{
  char tag;
  uint8_t workspace;
  uint32_t payload_len;
  uint64_t ws_dev, ws_ino;
  char ws_path[4096];
};

/* ---- util (fsutil.c) ---- */
int read_file_at (int dirfd, const char *path, char *buf, size_t size, struct tr_error *err);
int write_file_at (int dirfd, const char *path, const char *data, struct tr_error *err);
/* Open a directory under ROOTFD without following any symlink, creating the
 * missing components (mode 0755).  Returns an O_PATH fd.  */
int open_dir_in_root (int rootfd, const char *path, bool create, struct tr_error *err);

#endif
