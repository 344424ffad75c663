/* tactus-runc: the runc-compatible command line (the same binary as
 * tactus-run, chosen by argv[0]).  One file per concern:
 *
 *   cli.c          global flags, option parsing, the command table
 *   log.c          --log / --log-format: text or JSON lines (level, msg, time)
 *   util.c         arena allocation, ids, small file helpers, signals
 *   state.c        the state directory, state.json, status, runc's state JSON
 *   oci_config.c   config.json (cJSON) -> struct oci_config, errors name the JSON path
 *   oci_seccomp.c  the OCI seccomp profile -> libseccomp -> BPF
 *   hooks.c        OCI hooks (state JSON on stdin, timeouts)
 *   console.c      pty in the container, SCM_RIGHTS to --console-socket, pty proxy
 *   reexec.c       CVE-2019-5736: run from a read-only or sealed copy of ourselves
 *   container.c    the process model: the init (create) and exec'd processes
 *   *_cmd.c / one file per command: create (and run), start, state/list, kill,
 *                  delete, exec, ps, pause/resume, update, features, spec  */
#ifndef TR_SHIM_RUNC_H
#define TR_SHIM_RUNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "common/error.h"
#include "sandbox/container.h"
#include "sandbox/internal.h"

#define RUNC_NAME "tactus-runc"
#define OCI_VERSION "1.0.2-dev"
#define OCI_VERSION_MIN "1.0.0"
#define OCI_VERSION_MAX "1.1.0"

/* ---- cli.c ---- */
struct runc_globals
{
  const char *root; /* the state root (resolved) */
  const char *log_path;
  bool log_json;
  bool debug;
  bool systemd_cgroup;
  int rootless; /* -1 auto, 0, 1 */
};
extern struct runc_globals runc_g;

int runc_main (int argc, char **argv);

enum opt_kind
{
  OPT_BOOL, /* --flag, --flag=true|false */
  OPT_STR,  /* --opt VALUE, --opt=VALUE */
  OPT_LIST, /* repeatable --opt VALUE */
  OPT_INT,  /* --opt N */
};

struct optdef
{
  const char *name; /* long name without dashes */
  char short_name;  /* 0: none */
  enum opt_kind kind;
  void *dest; /* bool*, const char**, struct strlist*, long* */
};

struct strlist
{
  const char **v;
  size_t n;
};

/* Parse ARGV[1..] (ARGV[0] is the command's name) until the first
 * positional argument or "--".  Returns the index of the first positional. */
int opts_parse (const char *cmd, int argc, char **argv, const struct optdef *defs,
                struct tr_error *err);

/* The commands: ARGV[0] is the command name.  */
int runc_cmd_create (int argc, char **argv);
int runc_cmd_run (int argc, char **argv);
int runc_cmd_start (int argc, char **argv);
int runc_cmd_state (int argc, char **argv);
int runc_cmd_list (int argc, char **argv);
int runc_cmd_kill (int argc, char **argv);
int runc_cmd_delete (int argc, char **argv);
int runc_cmd_exec (int argc, char **argv);
int runc_cmd_ps (int argc, char **argv);
int runc_cmd_events (int argc, char **argv);
int runc_cmd_pause (int argc, char **argv);
int runc_cmd_resume (int argc, char **argv);
int runc_cmd_update (int argc, char **argv);
int runc_cmd_features (int argc, char **argv);
int runc_cmd_spec (int argc, char **argv);

/* ---- log.c ---- */
int log_open (const char *path, bool json, struct tr_error *err);
int log_fd (void);
void log_line (const char *level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
#define log_debug(...)                                                                             \
  do                                                                                               \
    {                                                                                              \
      if (runc_g.debug)                                                                            \
        log_line ("debug", __VA_ARGS__);                                                           \
    }                                                                                              \
  while (0)
#define log_warn(...) log_line ("warning", __VA_ARGS__)
/* An error: to the log (if any) and to stderr, as runc does.  Returns the
 * exit code to use.  */
int log_fail (const struct tr_error *err);
/* The same line written to FD, for a process that has no other way to
 * report (the parked init).  */
void log_line_fd (int fd, bool json, const char *level, const char *msg);
void rfc3339_now (char *buf, size_t size);

/* ---- util.c ---- */
void *ar_alloc (size_t size); /* zeroed; freed at exit */
char *ar_strdup (const char *s);
char *ar_printf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void ar_track_json (cJSON *j); /* cJSON_Delete at exit */
void ar_free_all (void);

int validate_id (const char *id, struct tr_error *err);
/* Read a whole file (NUL-terminated, bounded).  */
int read_whole_file (const char *path, size_t max, char **out, size_t *len, struct tr_error *err);
/* Write DATA to PATH atomically (temporary file + rename).  */
int write_file_atomic (const char *path, const char *data, size_t len, mode_t mode,
                       struct tr_error *err);
int parse_signal (const char *s, int *out);
const char *signal_name (int sig);
/* Process start time (field 22 of /proc/PID/stat); 0 if gone.  STATE gets
 * the one-letter state.  */
unsigned long long proc_start_time (pid_t pid, char *state);
/* Print cJSON as runc does (two-space indent) to stdout.  */
void json_print_pretty (const cJSON *j);
char *json_pretty (const cJSON *j);
int mkdir_p (const char *path, mode_t mode, struct tr_error *err);
/* Fds 3.. up to (3 + preserve) stay; all others get CLOEXEC.  */
void fds_cloexec_from (int first);

/* ---- oci_config.c ---- */
enum hook_kind
{
  HOOK_PRESTART,
  HOOK_CREATE_RUNTIME,
  HOOK_CREATE_CONTAINER,
  HOOK_START_CONTAINER,
  HOOK_POSTSTART,
  HOOK_POSTSTOP,
  HOOK__COUNT,
};
extern const char *const hook_names[HOOK__COUNT];

struct oci_hook
{
  const char *path;
  const char **args; /* NULL-terminated; args[0] is argv[0] */
  const char **env;  /* NULL-terminated */
  int timeout;       /* seconds, 0: none */
};

struct oci_rlimit
{
  int resource;
  uint64_t soft, hard;
};

struct oci_process
{
  bool terminal;
  bool has_console_size;
  unsigned console_height, console_width;
  const char *cwd;
  const char **args; /* NULL-terminated */
  const char **env;  /* NULL-terminated */
  uid_t uid;
  gid_t gid;
  gid_t *gids;
  size_t n_gids;
  bool has_umask;
  mode_t umask;
  struct ct_caps caps;
  struct oci_rlimit *rlimits;
  size_t n_rlimits;
  bool no_new_privs;
  bool has_oom_score_adj;
  int oom_score_adj;
};

struct oci_ns
{
  int flag;         /* CLONE_NEW* */
  const char *path; /* NULL: a new one */
};

struct oci_idmap
{
  uint32_t container_id, host_id, size;
};

#define OCI_MAX_IDMAPS 64

struct oci_config
{
  cJSON *json;
  const char *bundle; /* absolute */
  const char *oci_version;
  bool has_process;
  struct oci_process process;
  const char *root_path; /* absolute */
  bool root_readonly;
  const char *hostname, *domainname;
  struct ct_mount *mounts;
  size_t n_mounts;
  struct oci_hook *hooks[HOOK__COUNT];
  size_t n_hooks[HOOK__COUNT];
  struct oci_ns ns[16];
  size_t n_ns;
  int ns_flags;     /* every namespace in the config (new or joined) */
  int new_ns_flags; /* the ones to create */
  struct oci_idmap uid_maps[OCI_MAX_IDMAPS], gid_maps[OCI_MAX_IDMAPS];
  size_t n_uid_maps, n_gid_maps;
  struct ct_device *devices;
  size_t n_devices;
  const char *cgroups_path; /* NULL when absent */
  struct ct_resources res;
  bool has_resources;
  const char **masked;
  size_t n_masked;
  const char **readonly;
  size_t n_readonly;
  const char **sysctl_keys, **sysctl_values;
  size_t n_sysctl;
  unsigned long rootfs_propagation;
  cJSON *seccomp;     /* linux.seccomp, or NULL */
  cJSON *annotations; /* or NULL */
};

/* Read BUNDLE/config.json (or CONFIG_PATH when not NULL) and parse it.  */
int oci_config_load (const char *bundle, const char *config_path, struct oci_config *cfg,
                     struct tr_error *err);
int oci_config_parse (const char *text, const char *bundle, struct oci_config *cfg,
                      struct tr_error *err);
/* A "process" object at PATH (for exec --process too).  */
int oci_process_parse (const cJSON *node, const char *path, struct oci_process *p,
                       struct tr_error *err);
int oci_resources_parse (const cJSON *node, const char *path, struct ct_resources *r,
                         struct tr_error *err);
/* The default PATH when env has none.  */
#define OCI_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- oci_seccomp.c ---- */
struct oci_seccomp_prog
{
  struct seccomp_program prog;
  unsigned flags; /* SECCOMP_FILTER_FLAG_* for seccomp(2) */
  bool loaded;
};
int oci_seccomp_compile (const cJSON *node, struct oci_seccomp_prog *out, struct tr_error *err);
int oci_seccomp_load (const struct oci_seccomp_prog *p, struct tr_error *err);

/* ---- state.c ---- */
enum ct_status
{
  ST_CREATING,
  ST_CREATED,
  ST_RUNNING,
  ST_PAUSED,
  ST_STOPPED,
};
extern const char *const status_names[];

struct ct_state
{
  const char *id;
  const char *dir; /* the state directory */
  const char *bundle;
  const char *rootfs;
  pid_t pid;
  unsigned long long start_time;
  const char *created; /* RFC 3339 */
  const char *owner;
  const char *cgroup; /* absolute host path, or "" */
  bool cgroup_created;
  bool userns;
  cJSON *annotations;
  enum ct_status status; /* computed on load */
};

/* runc_g.root/ID */
const char *state_dir_of (const char *id);
int state_root_ensure (struct tr_error *err);
/* Create the state directory; error if the id is taken.  */
int state_dir_create (const char *id, struct tr_error *err);
int state_save (const struct ct_state *st, struct tr_error *err);
/* Load ID's state; "container does not exist" when there is none.  */
int state_load (const char *id, struct ct_state *st, struct tr_error *err);
enum ct_status state_status (const struct ct_state *st);
/* runc's state JSON (ociVersion, id, pid, status, bundle, rootfs, created,
 * owner, annotations).  */
cJSON *state_json (const struct ct_state *st, const char *status_override);
/* The exec fifo, created by create and removed by start.  */
const char *state_fifo_path (const char *id);
/* The saved config (a copy of config.json made at create time).  */
int state_load_config (const struct ct_state *st, struct oci_config *cfg, struct tr_error *err);
int state_remove (const char *id);
/* flock on the state directory.  */
int state_lock (const char *id, struct tr_error *err);

/* ---- hooks.c ---- */
/* Run every hook of KIND with STATE_JSON on stdin.  */
void oci_caps_fit_bounding (struct ct_caps *caps, const char *what);
int hooks_run (const struct oci_config *cfg, enum hook_kind kind, const char *state_json,
               struct tr_error *err);

/* ---- console.c ---- */
/* Connect to the console socket at PATH (done before the container
 * process exists).  */
int console_connect (const char *path, struct tr_error *err);
/* Inside the container: open a pty from its devpts, bind the peer at
 * /dev/console (BIND_CONSOLE), make it the controlling terminal and fds
 * 0-2, and return the master.  */
int console_setup (bool bind_console, const struct oci_process *p, char *name, size_t name_size,
                   struct tr_error *err);
/* Send MASTER with exactly one SCM_RIGHTS fd and NAME as the data.  */
int console_send (int sock, int master, const char *name, struct tr_error *err);
int console_recv (int sock, int *master, struct tr_error *err);
/* Copy between our stdio and MASTER until the process PIDFD has exited
 * and the master is drained.  */
void console_proxy (int master, int pidfd);

/* ---- reexec.c ---- */
/* Make sure /proc/self/exe is not a writable handle on our binary: re-exec
 * from a read-only bind of it, or from a sealed memfd copy.  Returns only
 * when already safe (or on error).  */
int reexec_protect (int argc, char **argv, struct tr_error *err);

/* ---- container.c ---- */
struct ct_launch
{
  const struct oci_config *cfg;
  const char *id;
  const char *state_dir;
  int fifo_fd;      /* exec fifo (O_RDWR) for the init to park on */
  int console_fd;   /* connected console socket, -1 */
  bool want_master; /* no console socket: send the master back (run -t) */
  int cgroup_fd;    /* -1: none */
  const char *cgroup_path;
  bool no_pivot;
  bool no_new_keyring;
  int preserve_fds;
  const struct oci_seccomp_prog *seccomp;
  const struct ct_state *state; /* for the hooks' state JSON */
};

/* Start the init: it builds the container and parks on the exec fifo.
 * Returns when it is parked; *PID / *PIDFD name it, *MASTER gets the pty
 * master when want_master.  */
int container_create (const struct ct_launch *l, pid_t *pid, int *pidfd, int *master,
                      struct tr_error *err);

struct ct_exec
{
  const struct oci_config *cfg;   /* the container's saved config */
  const struct oci_process *proc; /* what to run */
  const struct ct_state *state;
  int console_fd;
  bool want_master;
  int cgroup_fd;
  int preserve_fds;
  bool subreaper; /* not detached: wait for the process */
  const struct oci_seccomp_prog *seccomp;
};
/* Start a process in a running container; *PID is its host pid.  */
int container_exec (const struct ct_exec *x, pid_t *pid, int *master, struct tr_error *err);

/* Shared by create/run/exec: a container's state JSON for hooks.  */
char *hook_state_json (const struct ct_state *st, const char *status, pid_t pid);

/* ---- create.c (shared by run) ---- */
struct create_opts
{
  const char *bundle;
  const char *pid_file;
  const char *console_socket;
  bool no_pivot;
  bool no_new_keyring;
  long preserve_fds;
  bool want_master;
};
int create_container (const char *id, const struct create_opts *o, pid_t *pid, int *pidfd,
                      int *master, struct tr_error *err);
/* The start step: release the init, run poststart hooks.  */
int start_container (const char *id, struct tr_error *err);
/* Remove a stopped (or killed) container: cgroup, poststop hooks, state.  */
int destroy_container (struct ct_state *st, struct tr_error *err);
int write_pid_file (const char *path, pid_t pid, struct tr_error *err);
/* Wait (bounded) until PID is gone; true if it is.  */
bool wait_pid_gone (pid_t pid, unsigned long long start_time, int ms);

#endif
