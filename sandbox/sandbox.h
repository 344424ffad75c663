/* The sandbox: builds a cage from Linux primitives and runs one thing in it.
 *
 * Everything is driven by one struct sandbox_spec, filled by policy/ (from
 * config or CLI flags) and never by the sandbox itself.  The sandbox knows
 * nothing of Lua, of Tactus or of OCI JSON.
 *
 * What runs inside is either an in-process entry function (the VM: the child
 * is a clone of the launcher, so nothing is re-executed) or a native program
 * that is exec'd at the very end of the setup.  */
#ifndef TR_SANDBOX_H
#define TR_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

enum sandbox_workspace
{
  SANDBOX_WORKSPACE_RW = 0,
  SANDBOX_WORKSPACE_RO,
  SANDBOX_WORKSPACE_OFF,
  /* The directory as it is, writes kept in the sandbox's memory and gone
   * with it (an overlay whose upper layer is a private tmpfs): each run
   * starts from the same files, as `tactus-run test` scenarios need.  */
  SANDBOX_WORKSPACE_OVERLAY,
};

enum sandbox_seccomp
{
  SANDBOX_SECCOMP_VM = 0, /* the Lua VM: a few dozen syscalls, kill on anything else */
  SANDBOX_SECCOMP_VM_JIT, /* same, plus executable mappings for the JIT compiler */
  SANDBOX_SECCOMP_NATIVE, /* a native program: a container-like allowlist, EPERM otherwise */
  SANDBOX_SECCOMP__COUNT,
};

struct sandbox_bind
{
  const char *source; /* host path */
  const char *target; /* absolute path inside the sandbox */
  bool writable;
};

struct sandbox_limits
{
  uint64_t memory_bytes;  /* cgroup memory.max, RLIMIT_AS as the fallback (0: none); RLIMIT_DATA
                             is always set, to at least 2 GiB */
  uint64_t pids;          /* cgroup pids.max; RLIMIT_NPROC always (0: default) */
  double cpus;            /* cgroup cpu.max, in CPUs (0: none) */
  uint64_t cpu_seconds;   /* RLIMIT_CPU, soft == hard (0: derived from the timeout, at least
                             3600 s) */
  uint64_t nofile;        /* RLIMIT_NOFILE (0: default) */
  uint64_t fsize_bytes;   /* RLIMIT_FSIZE (0: default) */
  uint64_t tmpfs_bytes;   /* size of the sandbox's /tmp (0: default) */
  double timeout_seconds; /* wall-clock deadline kept by the parent (0: none) */
};

/* What the entry function gets inside the sandbox.  */
struct sandbox_inside
{
  int broker_fd;       /* the sandbox end of the broker socketpair, or -1 */
  const void *payload; /* bytes sent with sandbox_go (a prepared sandbox), or NULL */
  size_t payload_len;
};

typedef int (*sandbox_entry_fn) (void *arg, const struct sandbox_inside *inside);

struct sandbox_spec
{
  /* Exactly one of entry / argv.  */
  sandbox_entry_fn entry;
  void *entry_arg;
  char *const *argv; /* argv[0] is resolved inside the sandbox (absolute path or PATH search) */
  char *const *envp; /* environment inside; NULL gives a minimal PATH/HOME/TERM one */

  const char *workspace_dir; /* host directory bound at /workspace (NULL: current directory) */
  enum sandbox_workspace workspace;
  const struct sandbox_bind *binds;
  size_t n_binds;
  bool system_binds; /* /usr, /lib*, /bin, /sbin and /etc/ld.so.cache read-only (native programs) */
  bool mount_proc;   /* a new /proc, with the dangerous entries masked */
  bool mount_dev;    /* a minimal /dev */
  bool dev_pts;      /* /dev/pts and /dev/ptmx (a new devpts instance) */
  bool mount_tmp;    /* a size-limited tmpfs at /tmp */
  const char *cwd;   /* inside; NULL: /workspace when bound, else / */
  const char *hostname;

  bool broker;      /* make a socketpair; the sandbox end is fd 3 inside */
  bool keep_stdin;  /* pass fd 0 through; otherwise /dev/null */
  bool keep_stdout; /* pass fd 1 through; otherwise /dev/null */
  bool keep_stderr; /* pass fd 2 through; otherwise /dev/null */
  /* With use_stdio_fd, the payload's fds 0-2 are these launcher fds (pipes
   * to a server the launcher talks to) instead of the above.  */
  bool use_stdio_fd;
  int stdio_fd[3];

  /* A TCP socket listening on 127.0.0.1:PORT inside the cage's own network
   * namespace, made during the setup and handed to the launcher
   * (sandbox_listen_fd): the cage can connect to it and to nothing else
   * outside.  What answers there (the broker's egress proxy) is the
   * launcher's business; the sandbox only places the socket.  0: none.  */
  uint16_t loopback_listen_port;

  /* For a root caller: the host uid/gid that sandbox root maps to.  -1 picks
   * the workspace owner when that is not root, else 65534.  Ignored for an
   * unprivileged caller, whose sandbox root is always the caller.  */
  uid_t host_uid;
  gid_t host_gid;

  enum sandbox_seccomp seccomp;
  /* Native programs (argv) only.  Names (common/protected.h) the cage may
   * never write nor create in a host directory it can write (a read-write
   * workspace or bind): the existing ones are bound read-only, new ones
   * are refused by the supervisor (sandbox/supervise.c).  NULL: the
   * built-in list; an empty list: none.  */
  const char *const *protected_paths;
  /* Host paths of unix sockets the cage may connect to.  NULL: none, and
   * no AF_UNIX socket at all (socketpair only).  Non-NULL (even empty):
   * unix sockets, with every connect made by the supervisor, which refuses
   * a socket on a host filesystem that is not listed.  */
  const char *const *unix_sockets;
  /* How the caller allows another socket, in its words (a flag, a config
   * key), added to the supervisor's refusal lines; NULL: nothing.  */
  const char *unix_socket_hint;
  struct sandbox_limits limits;
  bool require_cgroup_limits; /* fail instead of falling back to rlimits */
  /* With sandbox_prepare (a warm pool): the cage is sealed before the go.
   * The id maps are written at prepare, and the child finishes its whole
   * setup (root, mounts, loopback, rlimits, privileges dropped, seccomp
   * loaded) while it waits; the go then only hands it its payload.  Needs
   * an entry, SANDBOX_WORKSPACE_OFF, no binds and no loopback listener;
   * the host ids are the spec's (sandbox_go's host_ids is not used).  */
  bool seal;
};

void sandbox_spec_init (struct sandbox_spec *spec);

/* Why a sandbox ended.  */
struct sandbox_result
{
  int exit_code;     /* the status to report, shell style: code, or 128+signal */
  int signal;        /* the signal that ended PID 1, or 0 */
  bool timed_out;    /* the wall-clock deadline fired */
  bool oom;          /* the memory limit was hit (cgroup memory.events) */
  bool seccomp;      /* killed by the seccomp filter (SIGSYS) */
  uint64_t cpu_usec; /* cgroup cpu.stat usage, when a cgroup was used */
};

struct sandbox;

/* Build the cage and start SPEC inside.  Returns once the sandbox is fully
 * set up and running its payload (or failed, leaving nothing behind).
 * The same as sandbox_prepare then sandbox_go with nothing to add.  */
int sandbox_start (const struct sandbox_spec *spec, struct sandbox **out, struct tr_error *err);

/* Two steps, for a warm pool: prepare makes the cgroup and the namespaces
 * (the child waits, holding nothing of a run yet); go gives it the run's
 * workspace and payload, maps the ids and lets it finish the cage.  SPEC
 * must live until go.  Each prepared sandbox serves exactly one run.  */
struct sandbox_go
{
  const char *workspace_dir; /* NULL: the spec's (or the current directory) */
  const void *payload;       /* handed to the entry as sandbox_inside.payload */
  size_t payload_len;        /* at most FRAME_MAX_MESSAGE */
  double timeout_seconds;    /* 0: the spec's; the deadline starts at go */
  /* With HOST_IDS, a root caller's host ids for sandbox root, instead of
   * the spec's (a cage with no workspace of its own whose run still
   * belongs to a directory's owner).  Never 0: root is never mapped.  */
  bool host_ids;
  uid_t host_uid;
  gid_t host_gid;
};
int sandbox_prepare (const struct sandbox_spec *spec, struct sandbox **out, struct tr_error *err);
int sandbox_go (struct sandbox *sb, const struct sandbox_go *go, struct tr_error *err);

/* The broker end of the socketpair, owned by the sandbox (-1 without a broker).  */
int sandbox_broker_fd (const struct sandbox *sb);
/* The listening socket placed in the cage (spec.loopback_listen_port),
 * owned by the sandbox until taken (the caller then closes it); -1 when
 * none.  */
int sandbox_take_listen_fd (struct sandbox *sb);
/* A pidfd for PID 1: readable once it has exited.  */
int sandbox_pidfd (const struct sandbox *sb);
pid_t sandbox_pid (const struct sandbox *sb);
/* Milliseconds left before the deadline; -1 without a deadline.  */
int sandbox_ms_left (const struct sandbox *sb);
/* Send SIGNO to PID 1 (SIGKILL kills everything in the sandbox).  */
int sandbox_signal (struct sandbox *sb, int signo);
/* Kill every process of the sandbox (cgroup.kill, else SIGKILL to PID 1).  */
void sandbox_kill (struct sandbox *sb);
/* Enforce the deadline and reap PID 1; fills RES.  Blocks.  */
int sandbox_wait (struct sandbox *sb, struct sandbox_result *res, struct tr_error *err);
/* Reap PID 1 if it has exited; returns 1 when RES was filled, 0 if still running.  */
int sandbox_try_reap (struct sandbox *sb, struct sandbox_result *res, struct tr_error *err);
/* Note that the deadline passed; the next reap reports a timeout.  */
void sandbox_mark_timed_out (struct sandbox *sb);
/* Kill what is left, remove the cgroup, close fds, free.  */
void sandbox_destroy (struct sandbox *sb);

#endif
