/* tactus-run run FILE.tac: config -> sandbox spec -> VM as PID 1 <-> broker.
 *
 * Data flows one way: the CLI parses flags and config once, builds the
 * sandbox spec and the broker options, starts the sandbox with the VM as
 * its entry, serves the broker until the VM ends, then reports.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/trace.h"
#include "cli/cli.h"
#include "common/cleanup.h"
#include "policy/config.h"
#include "sandbox/sandbox.h"
#include "vm/vm.h"

#define MAX_SOURCE (4 << 20)
#define DEFAULT_VM_MEMORY (512ull << 20)

struct run_options
{
  const char *file;
  cJSON *params;
  bool no_sandbox;
  bool mock_all;
  bool json;
  bool verbose;
  bool no_jit;
  enum broker_storage storage;
  const char *storage_path;
  const char *trace_path;
  enum broker_approve approve;
  bool approve_set;
  double timeout;
  uint64_t memory;
};

static void
run_usage (FILE *f)
{
  fprintf (f,
           "usage: tactus-run run FILE.tac [OPTIONS]   (or: tactus-run FILE.tac [OPTIONS])\n"
           "\n"
           "  --param KEY=VALUE     an input value (typed by the procedure's input schema)\n"
           "  --no-sandbox          run the VM without the sandbox (NOT isolated)\n"
           "  --mock-all            mock every host tool and agent (no network, no side effects)\n"
           "  --storage memory|file keep checkpoints in memory (default) or in files, for replay\n"
           "  --storage-path DIR    where file storage lives (default .tactus/storage)\n"
           "  --timeout SECONDS     wall-clock limit; exit 124 when it fires\n"
           "  --memory SIZE         memory limit of the VM (default 512m)\n"
           "  --approve all|none|ask  answer approvals without asking\n"
           "  --trace FILE          write every event as JSON Lines to FILE\n"
           "  --json                JSON Lines on stdout (events, then the result)\n"
           "  --no-jit              run the Lua interpreter only\n"
           "  -v, --verbose         show debug logs\n"
           "\n"
           "exit status: 0 success (or paused waiting for a human), 1 failure, 124 timeout,\n"
           "137 memory limit, 130 interrupted (SIGINT), 143 terminated (SIGTERM)\n");
}

static int usage_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static int
usage_error (const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "tactus-run run: ");
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, "\n(see tactus-run run --help)\n");
  return 1;
}

static int
add_param (cJSON *params, const char *kv)
{
  const char *eq = strchr (kv, '=');
  char key[256];

  if (eq == NULL || eq == kv || (size_t) (eq - kv) >= sizeof key)
    return -1;
  memcpy (key, kv, (size_t) (eq - kv));
  key[eq - kv] = '\0';
  cJSON_DeleteItemFromObjectCaseSensitive (params, key);
  cJSON_AddStringToObject (params, key, eq + 1);
  return 0;
}

static int
parse_run_args (int argc, char **argv, struct run_options *ro)
{
  enum
  {
    O_PARAM = 256, O_NOSB, O_MOCK, O_STORAGE, O_SPATH, O_TIMEOUT, O_MEM, O_APPROVE, O_TRACE, O_JSON,
    O_NOJIT, O_HELP
  };
  static const struct option opts[] = {
    { "param", required_argument, 0, O_PARAM },     { "no-sandbox", no_argument, 0, O_NOSB },
    { "mock-all", no_argument, 0, O_MOCK },         { "storage", required_argument, 0, O_STORAGE },
    { "storage-path", required_argument, 0, O_SPATH }, { "timeout", required_argument, 0, O_TIMEOUT },
    { "memory", required_argument, 0, O_MEM },      { "approve", required_argument, 0, O_APPROVE },
    { "trace", required_argument, 0, O_TRACE },     { "json", no_argument, 0, O_JSON },
    { "no-jit", no_argument, 0, O_NOJIT },          { "verbose", no_argument, 0, 'v' },
    { "help", no_argument, 0, O_HELP },             { 0, 0, 0, 0 },
  };
  int c;

  optind = 1;
  opterr = 0;
  while ((c = getopt_long (argc, argv, "v", opts, NULL)) != -1)
    switch (c)
      {
      case O_PARAM:
        if (add_param (ro->params, optarg) < 0)
          return usage_error ("--param '%s': expected KEY=VALUE", optarg);
        break;
      case O_NOSB: ro->no_sandbox = true; break;
      case O_MOCK: ro->mock_all = true; break;
      case O_STORAGE:
        if (strcmp (optarg, "memory") == 0) ro->storage = STORAGE_MEMORY;
        else if (strcmp (optarg, "file") == 0) ro->storage = STORAGE_FILE;
        else return usage_error ("--storage '%s': expected memory or file", optarg);
        break;
      case O_SPATH: ro->storage_path = optarg; break;
      case O_TIMEOUT:
        if (parse_seconds (optarg, &ro->timeout) < 0 || ro->timeout <= 0)
          return usage_error ("--timeout '%s': expected a positive number of seconds", optarg);
        break;
      case O_MEM:
        if (parse_size (optarg, &ro->memory) < 0 || ro->memory < (4u << 20))
          return usage_error ("--memory '%s': expected a size of at least 4m, such as 256m", optarg);
        break;
      case O_APPROVE:
        ro->approve_set = true;
        if (strcmp (optarg, "all") == 0) ro->approve = APPROVE_ALL;
        else if (strcmp (optarg, "none") == 0) ro->approve = APPROVE_NONE;
        else if (strcmp (optarg, "ask") == 0) ro->approve = APPROVE_ASK;
        else return usage_error ("--approve '%s': expected all, none or ask", optarg);
        break;
      case O_TRACE: ro->trace_path = optarg; break;
      case O_JSON: ro->json = true; break;
      case O_NOJIT: ro->no_jit = true; break;
      case 'v': ro->verbose = true; break;
      case O_HELP: run_usage (stdout); exit (0);
      default:
        return usage_error ("unknown or incomplete option '%s'", argv[optind - 1]);
      }
  if (optind >= argc)
    return usage_error ("%s", "no procedure file given (tactus-run run FILE.tac)");
  if (optind + 1 < argc)
    return usage_error ("unexpected argument '%s' (one .tac file per run)", argv[optind + 1]);
  ro->file = argv[optind];
  return 0;
}

static char *
read_source (const char *path, size_t *len, struct tr_error *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  char *buf;
  ssize_t n;

  if (fd < 0)
    {
      tr_fail (err, errno, "%s", path);
      return NULL;
    }
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size > MAX_SOURCE)
    {
      tr_fail (err, 0, "%s: not a regular file under 4 MiB", path);
      return NULL;
    }
  buf = malloc ((size_t) st.st_size + 1);
  if (buf == NULL)
    {
      tr_fail (err, ENOMEM, "%s", path);
      return NULL;
    }
  n = read (fd, buf, (size_t) st.st_size);
  if (n < 0)
    {
      free (buf);
      tr_fail (err, errno, "%s", path);
      return NULL;
    }
  buf[n] = '\0';
  *len = (size_t) n;
  return buf;
}

/* ---- the peer: a sandbox, or a plain child with --no-sandbox ---- */

struct plain_child
{
  pid_t pid;
  int pidfd;
  double timeout;
  struct timespec start;
};

static int
sandbox_ms_left_cb (void *ctx)
{
  return sandbox_ms_left (ctx);
}

static void
sandbox_kill_cb (void *ctx)
{
  sandbox_kill (ctx);
}

static int
sandbox_signal_cb (void *ctx, int sig)
{
  return sandbox_signal (ctx, sig);
}

static int
plain_ms_left (void *ctx)
{
  struct plain_child *c = ctx;
  struct timespec now;
  double left;

  if (c->timeout <= 0)
    return -1;
  clock_gettime (CLOCK_MONOTONIC, &now);
  left = c->timeout - ((double) (now.tv_sec - c->start.tv_sec) + (double) (now.tv_nsec - c->start.tv_nsec) / 1e9);
  return left <= 0 ? 0 : (int) (left * 1000) + 1;
}

static void
plain_kill (void *ctx)
{
  struct plain_child *c = ctx;
  pidfd_send_signal (c->pidfd, SIGKILL, NULL, 0);
}

static int
plain_signal (void *ctx, int sig)
{
  struct plain_child *c = ctx;
  return pidfd_send_signal (c->pidfd, sig, NULL, 0);
}

static int
start_plain (struct vm_config *vm, double timeout, struct plain_child *c, int *fd, struct tr_error *err)
{
  int sv[2];

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return tr_fail (err, errno, "socketpair");
  c->timeout = timeout;
  clock_gettime (CLOCK_MONOTONIC, &c->start);
  c->pid = fork ();
  if (c->pid < 0)
    return tr_fail (err, errno, "fork");
  if (c->pid == 0)
    {
      close (sv[0]);
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      _exit (vm_run (vm, sv[1]));
    }
  close (sv[1]);
  c->pidfd = pidfd_open (c->pid, 0);
  if (c->pidfd < 0)
    {
      kill (c->pid, SIGKILL);
      close (sv[0]);
      return tr_fail (err, errno, "pidfd_open");
    }
  *fd = sv[0];
  return 0;
}

/* ---- reporting ---- */

static const char *
finish_str (const cJSON *finish, const char *a, const char *b)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (finish, a);
  if (b)
    v = cJSON_GetObjectItemCaseSensitive (v, b);
  return cJSON_IsString (v) ? v->valuestring : NULL;
}

struct verdict
{
  int code;
  const char *status;
  char message[1200];
};

static void
decide (const struct broker_outcome *out, int vm_status, bool vm_seccomp, bool oom, double timeout,
        struct verdict *v)
{
  const char *st = out->finish ? finish_str (out->finish, "status", NULL) : NULL;
  const char *etype = finish_str (out->finish, "error", "type");
  const char *emsg = finish_str (out->finish, "error", "message");

  v->message[0] = '\0';
  if (out->timed_out)
    {
      v->code = 124, v->status = "timeout";
      snprintf (v->message, sizeof v->message, "the run passed its %.3g s deadline and was killed", timeout);
    }
  /* Before the memory checks: a VM that outlives the grace period after
   * SIGINT/SIGTERM is SIGKILLed (status 137), which is not an OOM.  */
  else if (out->interrupted)
    {
      v->code = out->stop_signal == SIGTERM ? 143 : 130, v->status = "interrupted";
      snprintf (v->message, sizeof v->message, "interrupted by %s", out->stop_signal == SIGTERM ? "SIGTERM" : "SIGINT");
    }
  else if (oom || vm_status == 137 || (st && strcmp (st, "oom") == 0))
    {
      v->code = 137, v->status = "oom";
      snprintf (v->message, sizeof v->message, "the procedure exceeded its memory limit");
    }
  else if (out->killed_for_violations)
    {
      v->code = 1, v->status = "error";
      snprintf (v->message, sizeof v->message, "the sandbox broke the broker protocol %d times and was killed",
                out->violations);
    }
  else if (vm_seccomp)
    {
      v->code = 1, v->status = "error";
      snprintf (v->message, sizeof v->message, "the sandbox made a forbidden system call (seccomp) and was killed");
    }
  else if (st && strcmp (st, "success") == 0)
    v->code = 0, v->status = "success";
  else if (st && strcmp (st, "waiting") == 0)
    {
      v->code = 0, v->status = "waiting";
      snprintf (v->message, sizeof v->message, "%s", emsg ? emsg : "waiting for a human");
    }
  else if (st)
    {
      v->code = 1, v->status = "error";
      snprintf (v->message, sizeof v->message, "%s: %s", etype ? etype : "Error", emsg ? emsg : "(no message)");
    }
  else
    {
      v->code = 1, v->status = "error";
      snprintf (v->message, sizeof v->message, "the VM ended without a result (status %d)", vm_status);
    }
}

/* Peak memory of the launcher (with the broker) and of the sandbox (its
 * largest process; the VM is alone in it), from getrusage.  */
static void
add_resources (cJSON *r)
{
  struct rusage self, children;
  cJSON *res = cJSON_CreateObject ();

  getrusage (RUSAGE_SELF, &self);
  getrusage (RUSAGE_CHILDREN, &children);
  cJSON_AddNumberToObject (res, "launcher_max_rss_kb", (double) self.ru_maxrss);
  cJSON_AddNumberToObject (res, "sandbox_max_rss_kb", (double) children.ru_maxrss);
  cJSON_AddNumberToObject (res, "sandbox_cpu_ms", (double) children.ru_utime.tv_sec * 1e3
                                                      + (double) children.ru_utime.tv_usec / 1e3
                                                      + (double) children.ru_stime.tv_sec * 1e3
                                                      + (double) children.ru_stime.tv_usec / 1e3);
  cJSON_AddItemToObject (r, "resources", res);
}

static void
report (const struct run_options *ro, const struct broker_outcome *out, const struct verdict *v)
{
  const cJSON *result = cJSON_GetObjectItemCaseSensitive (out->finish, "result");
  const char *trace = finish_str (out->finish, "error", "traceback");

  if (ro->json)
    {
      cJSON *r = cJSON_CreateObject ();
      char *s;
      cJSON_AddStringToObject (r, "event_type", "result");
      cJSON_AddStringToObject (r, "status", v->status);
      cJSON_AddNumberToObject (r, "exit_code", v->code);
      add_resources (r);
      if (result)
        cJSON_AddItemToObject (r, "result", cJSON_Duplicate (result, 1));
      if (v->message[0])
        cJSON_AddStringToObject (r, "message", v->message);
      if (out->finish && cJSON_GetObjectItemCaseSensitive (out->finish, "state"))
        cJSON_AddItemToObject (r, "state", cJSON_Duplicate (cJSON_GetObjectItemCaseSensitive (out->finish, "state"), 1));
      s = cJSON_PrintUnformatted (r);
      printf ("%s\n", s ? s : "{}");
      cJSON_free (s);
      cJSON_Delete (r);
      return;
    }
  if (v->code == 0 && strcmp (v->status, "waiting") == 0)
    {
      if (ro->storage == STORAGE_FILE)
        printf ("⏸ Paused, %s\n  Answer with: tactus-run answer %s VALUE\n  then continue with: "
                "tactus-run run %s --storage file\n", v->message, ro->file, ro->file);
      else
        printf ("⏸ Paused, %s\n  Run with --storage file to be able to answer and resume, or "
                "answer now with --approve all|none.\n", v->message);
      return;
    }
  if (v->code == 0)
    {
      char *s = result ? cJSON_Print (result) : NULL;
      printf ("✓ Procedure completed successfully\n");
      if (s)
        printf ("Result: %s\n", s);
      cJSON_free (s);
      return;
    }
  fprintf (stderr, "✗ Procedure failed: %s\n", v->message);
  if (trace && ro->verbose)
    fprintf (stderr, "%s\n", trace);
}

/* config openai_base_url, else $OPENAI_BASE_URL, else OpenAI's; no
 * trailing slash.  */
static const char *
llm_base_url (const struct tr_config *cfg, char *buf, size_t size)
{
  const char *env = getenv ("OPENAI_BASE_URL");
  size_t n;

  snprintf (buf, size, "%s", cfg->openai_base_url ? cfg->openai_base_url
                             : env && *env       ? env
                                                 : "https://api.openai.com/v1");
  n = strlen (buf);
  while (n > 0 && buf[n - 1] == '/')
    buf[--n] = '\0';
  return buf;
}

static void
fill_spec (struct sandbox_spec *spec, const struct tr_config *cfg, const struct run_options *ro,
           struct vm_config *vm, struct sandbox_bind *binds)
{
  sandbox_spec_init (spec);
  spec->entry = vm_entry;
  spec->entry_arg = vm;
  spec->broker = true;
  /* The VM reads nothing from /proc, opens no device and has no use for a
   * /tmp: its cage holds the root tmpfs and /workspace only.  */
  spec->mount_proc = false;
  spec->mount_dev = false;
  spec->mount_tmp = false;
  spec->keep_stdout = spec->keep_stderr = false;
  spec->workspace = cfg->workspace == CONFIG_WORKSPACE_OFF ? SANDBOX_WORKSPACE_OFF
                    : cfg->workspace == CONFIG_WORKSPACE_RO ? SANDBOX_WORKSPACE_RO
                                                            : SANDBOX_WORKSPACE_RW;
  for (size_t i = 0; i < cfg->n_volumes; i++)
    {
      binds[i].source = cfg->volumes[i].source;
      binds[i].target = cfg->volumes[i].target;
      binds[i].writable = cfg->volumes[i].writable;
    }
  spec->binds = binds;
  spec->n_binds = cfg->n_volumes;
  spec->envp = cfg->env;
  spec->seccomp = vm->jit ? SANDBOX_SECCOMP_VM_JIT : SANDBOX_SECCOMP_VM;
  /* The VM's own cap ends a Lua memory bomb cleanly; the sandbox limit
   * (cgroup or RLIMIT_AS) is the backstop for everything else, with room
   * for the runtime's code and the JIT.  */
  spec->limits.memory_bytes = vm->memory_limit + (256ull << 20);
  spec->limits.pids = cfg->pids ? cfg->pids : 16;
  spec->limits.cpus = cfg->cpus;
  spec->limits.nofile = 64;
  spec->limits.timeout_seconds = ro->timeout > 0 ? ro->timeout : cfg->timeout;
}

static int
run_procedure (struct run_options *ro)
{
  struct tr_config cfg;
  struct tr_error err;
  cleanup_free char *source = NULL;
  cleanup_free char *dir_copy = NULL, *base_copy = NULL;
  cleanup_free struct sandbox_bind *binds = NULL;
  char cwd[PATH_MAX], storage_dir[PATH_MAX + 32], name[256], base_url[1024];
  struct vm_config vm = { 0 };
  struct broker_options bo = { 0 };
  struct broker_outcome out;
  struct trace trace = { 0 };
  struct broker_peer peer = { 0 };
  struct plain_child plain = { 0 };
  struct sandbox *sb = NULL;
  struct sandbox_result res = { 0 };
  struct verdict v;
  FILE *trace_file = NULL;
  size_t len;
  int vm_status = 1, rc;
  bool sandboxed;

  tr_error_clear (&err);
  config_init (&cfg);
  source = read_source (ro->file, &len, &err);
  /* LuaJIT has no bytecode verifier: only source text is ever loaded.  */
  if (source && len > 0 && source[0] == 0x1b)
    tr_fail (&err, 0, "%s: precompiled Lua bytecode is not accepted; pass the .tac source text", ro->file);
  if (source == NULL || (len > 0 && source[0] == 0x1b) || config_load (&cfg, ro->file, &err) < 0)
    {
      tr_error_print (&err);
      config_free (&cfg);
      return 1;
    }
  if (getcwd (cwd, sizeof cwd) == NULL)
    strcpy (cwd, ".");
  dir_copy = strdup (ro->file);
  base_copy = strdup (ro->file);
  snprintf (name, sizeof name, "%s", basename (base_copy));
  if (strlen (name) > 4 && strcmp (name + strlen (name) - 4, ".tac") == 0)
    name[strlen (name) - 4] = '\0';

  sandboxed = cfg.sandbox_enabled && !ro->no_sandbox;
  vm.source = source;
  vm.source_len = len;
  vm.chunkname = ro->file;
  vm.jit = cfg.jit && !ro->no_jit;
  vm.memory_limit = ro->memory ? ro->memory : cfg.memory ? cfg.memory : DEFAULT_VM_MEMORY;
  vm.workspace = cfg.workspace == CONFIG_WORKSPACE_OFF ? NULL : sandboxed ? "/workspace" : cwd;

  if (ro->trace_path)
    {
      trace_file = fopen (ro->trace_path, "we");
      if (trace_file == NULL)
        {
          fprintf (stderr, "tactus-run: --trace %s: %s\n", ro->trace_path, strerror (errno));
          config_free (&cfg);
          return 1;
        }
    }
  trace.human = ro->json ? NULL : stderr;
  trace.jsonl = ro->json ? stdout : NULL;
  trace.file = trace_file;
  trace.verbose = ro->verbose;

  if (ro->storage_path)
    snprintf (storage_dir, sizeof storage_dir, "%s", ro->storage_path);
  else if (cfg.storage_dir)
    snprintf (storage_dir, sizeof storage_dir, "%s", cfg.storage_dir);
  else
    snprintf (storage_dir, sizeof storage_dir, "%s/.tactus/storage", cwd);
  if (ro->storage == STORAGE_FILE)
    {
      char parent[PATH_MAX + 32];
      snprintf (parent, sizeof parent, "%s/.tactus", cwd);
      mkdir (parent, 0700);
    }

  bo.procedure_path = ro->file;
  bo.procedure_dir = dirname (dir_copy);
  bo.procedure_name = name;
  bo.params = ro->params;
  bo.mock_all = ro->mock_all;
  bo.storage = ro->storage;
  bo.storage_dir = storage_dir;
  bo.approve = ro->approve;
  bo.approve_set = ro->approve_set;
  bo.policy = &cfg.policy;
  bo.trace = &trace;
  bo.max_violations = 16;
  bo.llm_base_url = llm_base_url (&cfg, base_url, sizeof base_url);
  bo.llm_timeout = 120;
  bo.api_key_reader = config_read_openai_key;
  bo.grace_seconds = 2.0;

  if (sandboxed)
    {
      struct sandbox_spec spec;
      binds = calloc (cfg.n_volumes + 1, sizeof *binds);
      fill_spec (&spec, &cfg, ro, &vm, binds);
      if (sandbox_start (&spec, &sb, &err) < 0)
        {
          fprintf (stderr, "tactus-run: the sandbox could not be built: %s\n"
                           "  (run 'tactus-run sandbox status' to see what this host supports; "
                           "--no-sandbox runs without isolation)\n", err.msg);
          if (trace_file)
            fclose (trace_file);
          config_free (&cfg);
          return 1;
        }
      peer.fd = sandbox_broker_fd (sb);
      peer.pidfd = sandbox_pidfd (sb);
      peer.ctx = sb;
      peer.ms_left = sandbox_ms_left_cb;
      peer.kill = sandbox_kill_cb;
      peer.signal = sandbox_signal_cb;
    }
  else
    {
      fprintf (stderr, "tactus-run: WARNING: running WITHOUT the sandbox: the procedure has the "
                       "same access as you\n");
      if (start_plain (&vm, ro->timeout > 0 ? ro->timeout : cfg.timeout, &plain, &peer.fd, &err) < 0)
        {
          tr_error_print (&err);
          config_free (&cfg);
          return 1;
        }
      peer.pidfd = plain.pidfd;
      peer.ctx = &plain;
      peer.ms_left = plain_ms_left;
      peer.kill = plain_kill;
      peer.signal = plain_signal;
    }

  rc = broker_serve (&bo, &peer, &out, &err);
  if (rc < 0)
    tr_error_print (&err);
  if (sb)
    {
      if (out.timed_out)
        sandbox_mark_timed_out (sb);
      if (sandbox_wait (sb, &res, &err) == 0)
        vm_status = res.timed_out ? 124 : res.exit_code;
      sandbox_destroy (sb);
    }
  else
    {
      siginfo_t si = { 0 };
      if (waitid (P_PIDFD, (id_t) plain.pidfd, &si, WEXITED) == 0)
        {
          vm_status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
          res.seccomp = false;
        }
      close (plain.pidfd);
      close (peer.fd);
    }
  decide (&out, vm_status, res.seccomp, res.oom, ro->timeout > 0 ? ro->timeout : cfg.timeout, &v);
  report (ro, &out, &v);
  broker_outcome_free (&out);
  if (trace_file)
    fclose (trace_file);
  config_free (&cfg);
  return v.code;
}

int
cmd_run (int argc, char **argv)
{
  struct run_options ro = { 0 };
  int r;

  ro.params = cJSON_CreateObject ();
  r = parse_run_args (argc, argv, &ro);
  if (r == 0)
    r = run_procedure (&ro);
  cJSON_Delete (ro.params);
  return r;
}
