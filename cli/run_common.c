/* One procedure run, shared by `run`, `test` and `eval` (run_common.h):
 * the file and its config -> the VM config, the broker options and the
 * sandbox spec -> the VM as PID 1 <-> the broker -> a verdict.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/checkpoint_store.h"
#include "broker/trace.h"
#include "cli/present.h"
#include "cli/run_common.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "common/userdir.h"
#include "policy/config.h"
#include "policy/workspace_guard.h"
#include "sandbox/sandbox.h"
#include "vm/vm.h"

#define MAX_SOURCE (4 << 20)
#define DEFAULT_VM_MEMORY CONFIG_DEFAULT_MEMORY
/* What an overlay workspace keeps of the run's files, in all.  */
#define OVERLAY_BYTES (64ull << 20)

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

/* The broker's view of a sandbox.  */
static void
sandbox_peer (struct sandbox *sb, struct broker_peer *peer)
{
  peer->fd = sandbox_broker_fd (sb);
  peer->pidfd = sandbox_pidfd (sb);
  peer->pid = sandbox_pid (sb);
  peer->ctx = sb;
  peer->ms_left = sandbox_ms_left_cb;
  peer->kill = sandbox_kill_cb;
  peer->signal = sandbox_signal_cb;
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
  left = c->timeout
         - ((double) (now.tv_sec - c->start.tv_sec)
            + (double) (now.tv_nsec - c->start.tv_nsec) / 1e9);
  return left <= 0 ? 0 : (int) (left * 1000) + 1;
}

/* Without a pidfd (pidfd_open is ENOSYS under valgrind 3.19), the child is
 * signalled by pid: it stays our unreaped child until the final waitpid,
 * so the pid cannot be reused meanwhile.  */
static int
plain_signal (void *ctx, int sig)
{
  struct plain_child *c = ctx;
  if (c->pidfd < 0)
    return kill (c->pid, sig);
  return pidfd_send_signal (c->pidfd, sig, NULL, 0);
}

static void
plain_kill (void *ctx)
{
  plain_signal (ctx, SIGKILL);
}

static int
start_plain (struct vm_config *vm, double timeout, struct plain_child *c, int *fd,
             struct tr_error *err)
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
  /* ENOSYS (valgrind): go on without it; the broker then takes EOF on the
   * socket as the child's end.  */
  if (c->pidfd < 0 && errno != ENOSYS)
    {
      kill (c->pid, SIGKILL);
      close (sv[0]);
      return tr_fail (err, errno, "pidfd_open");
    }
  *fd = sv[0];
  return 0;
}

const char *
run_finish_str (const cJSON *finish, const char *a, const char *b)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (finish, a);
  if (b)
    v = cJSON_GetObjectItemCaseSensitive (v, b);
  return cJSON_IsString (v) ? v->valuestring : NULL;
}

static void
decide (const struct broker_outcome *out, int vm_status, int vm_signal, bool vm_seccomp, bool oom,
        double timeout, struct run_verdict *v)
{
  const char *st = out->finish ? run_finish_str (out->finish, "status", NULL) : NULL;
  const char *etype = run_finish_str (out->finish, "error", "type");
  const char *emsg = run_finish_str (out->finish, "error", "message");
  /* The user's file:line of an error raised inside a primitive (the VM
   * sends it apart from the message: "x.tac:6: ConnectionError: ...").  */
  const char *ewhere = run_finish_str (out->finish, "error", "where");

  /* It comes from the cage: only a short run of printable ASCII is shown
   * (a file name with control characters loses its position, not the
   * error).  */
  for (const char *p = ewhere; p && *p; p++)
    if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f || p - ewhere > 255)
      {
        ewhere = NULL;
        break;
      }

  v->message[0] = '\0';
  if (out->timed_out)
    {
      v->code = 124, v->status = "timeout";
      snprintf (v->message, sizeof v->message, "the run passed its %.3g s deadline and was killed",
                timeout);
    }
  /* Before the memory checks: a VM that outlives the grace period after
   * SIGINT/SIGTERM is SIGKILLed (status 137), which is not an OOM.  */
  else if (out->interrupted)
    {
      v->code = out->stop_signal == SIGTERM ? 143 : 130, v->status = "interrupted";
      snprintf (v->message, sizeof v->message, "interrupted by %s",
                out->stop_signal == SIGTERM ? "SIGTERM" : "SIGINT");
    }
  /* 137 means the memory cap when the VM exits with it (after a minimal
   * run.finish) or the cgroup counted an OOM kill; a SIGKILL from outside
   * (after protocol violations, or by anyone) is not an OOM.  */
  else if (oom || (vm_status == 137 && vm_signal == 0) || (st && strcmp (st, "oom") == 0))
    {
      v->code = 137, v->status = "oom";
      snprintf (v->message, sizeof v->message, "the procedure exceeded its memory limit");
    }
  else if (out->killed_for_violations)
    {
      v->code = 1, v->status = "error";
      snprintf (
          v->message, sizeof v->message,
          "the sandbox broke the broker protocol (%d violation%s; the last: %s) and was killed",
          out->violations, out->violations == 1 ? "" : "s",
          out->violation[0] ? out->violation : "?");
    }
  else if (vm_seccomp)
    {
      v->code = 1, v->status = "error";
      snprintf (v->message, sizeof v->message,
                "the sandbox made a forbidden system call (seccomp) and was killed");
    }
  else if (st && strcmp (st, "success") == 0)
    v->code = 0, v->status = "success";
  else if (st && strcmp (st, "waiting") == 0)
    {
      v->code = RUN_EXIT_PAUSED, v->status = "paused";
      snprintf (v->message, sizeof v->message, "%s", emsg ? emsg : "waiting for a human");
    }
  else if (st)
    {
      v->code = 1, v->status = "error";
      snprintf (v->message, sizeof v->message, "%s%s%s: %s", ewhere ? ewhere : "",
                ewhere ? ": " : "", etype ? etype : "Error", emsg ? emsg : "(no message)");
    }
  else if (vm_signal)
    {
      const char *name = sigabbrev_np (vm_signal);
      v->code = 1, v->status = "error";
      snprintf (
          v->message, sizeof v->message,
          "the sandbox was killed by SIG%s before the procedure finished: the run is incomplete "
          "(no result)",
          name ? name : "?");
    }
  else
    {
      v->code = 1, v->status = "error";
      snprintf (v->message, sizeof v->message, "the VM ended without a result (status %d)",
                vm_status);
    }
}

static void
cjson_deletep (cJSON **p)
{
  cJSON_Delete (*p);
}

/* The procedure's directory as a path relative to the workspace ("" for
 * the workspace itself), for the VM's path rule (vm/lua/paths.lua): -1
 * when it lies outside the workspace, or either cannot be resolved.  */
static int
procedure_dir_in_workspace (const char *workspace, const char *procedure_dir, char *buf,
                            size_t size)
{
  cleanup_free char *ws = realpath (workspace, NULL);
  cleanup_free char *pd = realpath (procedure_dir, NULL);
  size_t n;

  if (ws == NULL || pd == NULL)
    return -1;
  n = strlen (ws);
  if (strcmp (ws, "/") == 0)
    n = 0;
  if (strncmp (pd, ws, n) != 0 || (pd[n] != '\0' && pd[n] != '/'))
    return -1;
  snprintf (buf, size, "%s", pd[n] == '/' ? pd + n + 1 : pd + n);
  return 0;
}

static int64_t
elapsed_ms (const struct timespec *t0)
{
  struct timespec t1;

  clock_gettime (CLOCK_MONOTONIC, &t1);
  return (int64_t) (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The execution_summary event, the run's last trace event (before the
 * --json result line): docs/protocol.md.  */
static void
trace_summary (struct trace *t, const struct run_result *res, int64_t duration_ms)
{
  const struct broker_outcome *bo = &res->out;
  const cJSON *it = cJSON_GetObjectItemCaseSensitive (bo->finish, "iterations");
  const cJSON *tu = cJSON_GetObjectItemCaseSensitive (bo->finish, "tools_used");
  cJSON *ev, *tools;

  if (t == NULL)
    return;
  ev = cJSON_CreateObject ();
  cJSON_AddStringToObject (ev, "event_type", "execution_summary");
  cJSON_AddStringToObject (ev, "status", res->v.status);
  cJSON_AddNumberToObject (ev, "exit_code", res->v.code);
  cJSON_AddNumberToObject (ev, "duration_ms", (double) duration_ms);
  cJSON_AddNumberToObject (ev, "iterations", cJSON_IsNumber (it) ? it->valuedouble : 0);
  /* tools_used comes from the VM (untrusted): only strings go through.  */
  tools = cJSON_CreateArray ();
  if (cJSON_IsArray (tu) || cJSON_IsObject (tu))
    for (const cJSON *x = tu->child; x && cJSON_GetArraySize (tools) < 1000; x = x->next)
      {
        const char *name = cJSON_IsString (x)    ? x->valuestring
                           : cJSON_IsObject (tu) ? x->string
                                                 : NULL;
        if (name)
          cJSON_AddItemToArray (tools, cJSON_CreateString (name));
      }
  cJSON_AddItemToObject (ev, "tools_used", tools);
  cJSON_AddNumberToObject (ev, "requests", (double) bo->requests);
  if (bo->violations)
    cJSON_AddNumberToObject (ev, "protocol_violations", bo->violations);
  if (bo->llm_calls > 0)
    {
      cJSON *u = cJSON_CreateObject ();
      cJSON_AddNumberToObject (u, "model_calls", bo->llm_calls);
      cJSON_AddNumberToObject (u, "prompt_tokens", (double) bo->prompt_tokens);
      cJSON_AddNumberToObject (u, "completion_tokens", (double) bo->completion_tokens);
      cJSON_AddNumberToObject (u, "total_tokens", (double) bo->total_tokens);
      cJSON_AddItemToObject (ev, "usage", u);
    }
  if (res->v.message[0])
    cJSON_AddStringToObject (ev, "message", res->v.message);
  trace_event (t, ev);
  cJSON_Delete (ev);
}

/* config openai_base_url, else $OPENAI_BASE_URL, else OpenAI's; no
 * trailing slash.  */
static const char *
llm_base_url (const struct tr_config *cfg, char *buf, size_t size)
{
  const char *env = getenv ("OPENAI_BASE_URL");
  size_t n;

  snprintf (buf, size, "%s",
            cfg->openai_base_url ? cfg->openai_base_url
            : env && *env        ? env
                                 : "https://api.openai.com/v1");
  n = strlen (buf);
  while (n > 0 && buf[n - 1] == '/')
    buf[--n] = '\0';
  return buf;
}

/* The VM's environment: sandbox.env, and TZ (UTC unless the config says
 * otherwise) so that libc never looks for a time zone file once the
 * sandbox is sealed (sandbox/child.c reads it before seccomp).  Allocated;
 * lives as long as the spec.  */
static char **
vm_environment (const struct tr_config *cfg)
{
  char **env = NULL;
  bool tz = false;

  for (char *const *e = cfg->env; e && *e; e++)
    {
      tz = tz || strncmp (*e, "TZ=", 3) == 0;
      if (strv_push (&env, *e) < 0)
        break;
    }
  if (!tz)
    strv_push (&env, "TZ=UTC0");
  return env;
}

static void
fill_spec (struct sandbox_spec *spec, const struct tr_config *cfg, double timeout,
           struct vm_config *vm, char **env)
{
  sandbox_spec_init (spec);
  spec->entry = vm_entry;
  spec->entry_arg = vm;
  spec->broker = true;
  /* The VM reads nothing from /proc, opens no device, has no use for a
   * /tmp and reaches its files through the broker: its cage holds no host
   * directory at all, only the empty, read-only root tmpfs.  */
  spec->mount_proc = false;
  spec->mount_dev = false;
  spec->mount_tmp = false;
  spec->workspace = SANDBOX_WORKSPACE_OFF;
  spec->keep_stdout = spec->keep_stderr = false;
  spec->envp = env;
  spec->seccomp = vm->jit ? SANDBOX_SECCOMP_VM_JIT : SANDBOX_SECCOMP_VM;
  /* The VM's own cap ends a Lua memory bomb cleanly; the sandbox limit
   * (cgroup or RLIMIT_AS) is the backstop for everything else, with room
   * for the runtime's code and the JIT.  */
  spec->limits.memory_bytes = vm->memory_limit + (256ull << 20);
  spec->limits.pids = cfg->pids ? cfg->pids : CONFIG_DEFAULT_PIDS;
  spec->limits.cpus = cfg->cpus;
  spec->limits.nofile = 64;
  /* An overlay workspace's files live in memory (memfds the VM writes):
   * no single file may outgrow the overlay's budget.  */
  if (cfg->workspace == CONFIG_WORKSPACE_OVERLAY)
    spec->limits.fsize_bytes = OVERLAY_BYTES;
  spec->limits.timeout_seconds = timeout;
}

/* The broker's view of the workspace: the mode, and the volumes whose
 * target lies beneath /workspace (the only ones File.* paths can name).  */
static int
open_workspace (const struct tr_config *cfg, const char *dir, struct broker_volume *vols,
                struct broker_workspace **ws, struct tr_error *err)
{
  struct broker_workspace_spec spec = { .dir = dir, .overlay_bytes = OVERLAY_BYTES };

  spec.mode = cfg->workspace == CONFIG_WORKSPACE_OFF       ? BROKER_WS_OFF
              : cfg->workspace == CONFIG_WORKSPACE_RO      ? BROKER_WS_RO
              : cfg->workspace == CONFIG_WORKSPACE_OVERLAY ? BROKER_WS_OVERLAY
                                                           : BROKER_WS_RW;
  for (size_t i = 0; i < cfg->n_volumes; i++)
    if (strncmp (cfg->volumes[i].target, "/workspace/", 11) == 0)
      {
        vols[spec.n_volumes].source = cfg->volumes[i].source;
        vols[spec.n_volumes].target = cfg->volumes[i].target + 11;
        vols[spec.n_volumes].writable = cfg->volumes[i].writable;
        spec.n_volumes++;
      }
  spec.volumes = vols;
  spec.protected_paths = (const char *const *) cfg->protected_paths;
  return broker_workspace_open (&spec, ws, err);
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
  cJSON_AddNumberToObject (
      res, "sandbox_cpu_ms",
      (double) children.ru_utime.tv_sec * 1e3 + (double) children.ru_utime.tv_usec / 1e3
          + (double) children.ru_stime.tv_sec * 1e3 + (double) children.ru_stime.tv_usec / 1e3);
  cJSON_AddItemToObject (r, "resources", res);
}

/* STYLE's sequence when F is the view's terminal and it has colours.  */
static const char *
sgr (const struct run_report_opts *ro, FILE *f, enum present_style style)
{
  if (ro->view == NULL || !ro->view->color
      || !(f == ro->view->f || ro->view->always || isatty (fileno (f))))
    return "";
  return present_sgr (ro->view, style);
}

void
run_report (const struct run_report_opts *ro, const struct run_result *res, FILE *out, FILE *err)
{
  const struct broker_outcome *bo = &res->out;
  const struct run_verdict *v = &res->v;
  const cJSON *result = cJSON_GetObjectItemCaseSensitive (bo->finish, "result");
  const char *trace = run_finish_str (bo->finish, "error", "traceback");

  fflush (out);
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
      if (bo->finish && cJSON_GetObjectItemCaseSensitive (bo->finish, "state"))
        cJSON_AddItemToObject (
            r, "state",
            cJSON_Duplicate (cJSON_GetObjectItemCaseSensitive (bo->finish, "state"), 1));
      s = cJSON_PrintUnformatted (r);
      fprintf (out, "%s\n", s ? s : "{}");
      cJSON_free (s);
      cJSON_Delete (r);
      return;
    }
  /* The verdict lines are the CLI's own, at column 0; the message, the
   * result and the traceback come from the cage and are escaped (their
   * lines indented).  Colours only when the view has them and OUT/ERR is
   * its terminal.  */
  if (v->code == RUN_EXIT_PAUSED)
    {
      fprintf (out, "%s⏸ Paused%s, ", sgr (ro, out, PS_BOLD_YELLOW), sgr (ro, out, PS_RESET));
      present_put (out, v->message, 4000, "  ", 0);
      if (ro->storage == STORAGE_FILE)
        {
          fputs ("\n  Answer with: tactus-run answer ", out);
          present_put (out, ro->file, 4000, NULL, PRESENT_ONE_LINE);
          fputs (" VALUE\n  then continue with: tactus-run run ", out);
          present_put (out, ro->file, 4000, NULL, PRESENT_ONE_LINE);
          fputs (" --storage file\n", out);
        }
      else
        fputs ("\n  Run with --storage file to be able to answer and resume, or "
               "answer now with --approve all|none.\n",
               out);
      return;
    }
  if (v->code == 0)
    {
      fprintf (out, "%s✓ Procedure completed successfully%s\n", sgr (ro, out, PS_BOLD_GREEN),
               sgr (ro, out, PS_RESET));
      if (result)
        {
          fputs ("Result: ", out);
          /* Keys in the output schema's declaration order (the VM's
           * output_order, names only), then sorted.  */
          present_json_pretty (out, result,
                               cJSON_GetObjectItemCaseSensitive (bo->finish, "output_order"), 0);
          fputc ('\n', out);
        }
      return;
    }
  fprintf (err, "%s✗ Procedure failed:%s ", sgr (ro, err, PS_BOLD_RED), sgr (ro, err, PS_RESET));
  present_put (err, v->message, sizeof v->message, "  ", 0);
  fputc ('\n', err);
  if (trace && ro->verbose)
    {
      fputs ("  ", err);
      present_put (err, trace, 64 * 1024, "  ", 0);
      fputc ('\n', err);
    }
}

int
run_prepare (const struct tr_config *cfg, struct sandbox **sb, struct tr_error *err)
{
  struct sandbox_spec *spec = calloc (1, sizeof *spec);
  struct vm_config vm
      = { .jit = cfg->jit, .memory_limit = cfg->memory ? cfg->memory : DEFAULT_VM_MEMORY };

  if (spec == NULL)
    return tr_fail (err, ENOMEM, "sandbox");
  fill_spec (spec, cfg, cfg->timeout, &vm, vm_environment (cfg));
  /* The VM's configuration arrives with the run (sandbox_go's payload).  */
  spec->entry_arg = NULL;
  /* The whole cage is built before the run comes: the VM's cage holds no
   * workspace, so nothing of it depends on the run.  */
  spec->seal = true;
  return sandbox_prepare (spec, sb, err);
}

int
run_load (const char *file, char **source, size_t *len, struct tr_config *cfg)
{
  return run_load_config (file, NULL, source, len, cfg);
}

int
run_load_config (const char *file, const char *config_file, char **source, size_t *len,
                 struct tr_config *cfg)
{
  struct tr_error err;
  struct config_request req = { .procedure = file, .explicit_file = config_file };

  tr_error_clear (&err);
  config_init (cfg);
  *source = read_source (file, len, &err);
  /* LuaJIT has no bytecode verifier: only source text is ever loaded.  */
  if (*source && *len > 0 && (*source)[0] == 0x1b)
    tr_fail (&err, 0, "%s: precompiled Lua bytecode is not accepted; pass the .tac source text",
             file);
  req.source = *source;
  req.source_len = *len;
  if (*source == NULL || (*len > 0 && (*source)[0] == 0x1b)
      || config_load_request (cfg, &req, &err) < 0)
    {
      present_error (stderr, NULL, &err);
      config_free (cfg);
      free (*source);
      *source = NULL;
      return -1;
    }
  return 0;
}

void
run_storage_dir (const struct tr_config *cfg, const char *storage_path, char *buf, size_t size)
{
  struct tr_error err;

  if (storage_path)
    snprintf (buf, size, "%s", storage_path);
  else if (cfg->storage_dir)
    snprintf (buf, size, "%s", cfg->storage_dir);
  /* The default is out of every workspace (broker/checkpoint_store.h),
   * made private on first use.  */
  else if (userdir_state_path (buf, size, &err) == 0)
    {
      int state = userdir_open (buf, true, &err);
      int dir = state < 0 ? -1 : userdir_open_at (state, buf, "storage", true, &err);
      if (state >= 0)
        close (state);
      if (dir >= 0)
        close (dir);
      snprintf (buf + strlen (buf), size - strlen (buf), "/storage");
    }
  else
    snprintf (buf, size, "/nonexistent/tactus-run/storage");
}

int
run_execute (const struct run_job *job, struct run_result *res)
{
  const struct tr_config *cfg = job->cfg;
  struct tr_error err;
  cleanup_free char *dir_copy = NULL, *base_copy = NULL;
  cleanup_free struct broker_volume *vols = NULL;
  cleanup_strv char **vm_env = NULL;
  struct broker_workspace *ws = NULL;
  char cwd[PATH_MAX], name[256], base_url[1024], rel_dir[PATH_MAX];
  __attribute__ ((cleanup (cjson_deletep))) cJSON *start_extra = NULL;
  __attribute__ ((cleanup (checkpoint_store_close))) struct checkpoint_store store
      = { .dirfd = -1, .statefd = -1 };
  __attribute__ ((cleanup (cjson_deletep))) cJSON *stored = NULL;
  cleanup_free struct broker_endpoint *endpoints = NULL;
  struct vm_config vm = { 0 };
  struct broker_options bo = { 0 };
  struct broker_peer peer = { 0 };
  struct plain_child plain = { 0 };
  struct sandbox *sb = NULL;
  struct sandbox_result sres = { 0 };
  int vm_signal = 0;
  double timeout = job->timeout > 0 ? job->timeout : cfg->timeout;
  int rc;
  bool sandboxed;
  struct timespec t0;

  clock_gettime (CLOCK_MONOTONIC, &t0);
  tr_error_clear (&err);
  memset (res, 0, sizeof *res);
  res->vm_status = 1;
  if (getcwd (cwd, sizeof cwd) == NULL)
    strcpy (cwd, ".");
  dir_copy = strdup (job->file);
  base_copy = strdup (job->file);
  if (dir_copy == NULL || base_copy == NULL)
    {
      fprintf (stderr, "tactus-run: out of memory\n");
      return -1;
    }
  snprintf (name, sizeof name, "%s", basename (base_copy));
  if (strlen (name) > 4 && strcmp (name + strlen (name) - 4, ".tac") == 0)
    name[strlen (name) - 4] = '\0';

  sandboxed = cfg->sandbox_enabled && !job->no_sandbox;
  vm.source = job->source;
  vm.source_len = job->source_len;
  vm.chunkname = job->file;
  vm.jit = cfg->jit && !job->no_jit;
  vm.memory_limit = job->memory ? job->memory : cfg->memory ? cfg->memory : DEFAULT_VM_MEMORY;

  /* The workspace is opened before anything runs: a missing directory is
   * a clear error, not a failure inside a started run.  */
  vols = calloc (cfg->n_volumes + 1, sizeof *vols);
  if (vols == NULL
      || open_workspace (cfg, job->workspace_dir ? job->workspace_dir : cwd, vols, &ws, &err) < 0)
    {
      if (vols == NULL)
        tr_fail (&err, ENOMEM, "workspace");
      present_error (stderr, NULL, &err);
      if (job->prepared)
        sandbox_destroy (job->prepared);
      return -1;
    }

  if (cfg->workspace == CONFIG_WORKSPACE_RW
      && workspace_guard (job->workspace_dir ? job->workspace_dir : cwd, &err) < 0)
    {
      fprintf (stderr,
               "tactus-run: %s.\n  Run it from a project directory, or give it a workspace it "
               "cannot write back: --workspace-mode ro|overlay|off (or "
               "sandbox.mount_current_dir in ~/.tactus/config.yml).\n",
               err.msg);
      return -1;
    }
  /* Checkpoints are read and verified before the sandbox exists: a record
   * that does not verify stops the run before anything of it happens.  */
  if (job->storage == STORAGE_FILE
      && (checkpoint_store_init (&store, job->storage_path ? job->storage_path : cfg->storage_dir,
                                 job->file, name, &err)
              < 0
          || checkpoint_store_load (&store, &stored, &err) < 0))
    {
      present_error (stderr, NULL, &err);
      return -1;
    }

  bo.procedure_path = job->file;
  bo.procedure_dir = job->procedure_dir ? job->procedure_dir : dirname (dir_copy);
  /* run.start tells the VM where the procedure is in its workspace.  */
  start_extra = job->start_extra ? cJSON_Duplicate (job->start_extra, 1) : cJSON_CreateObject ();
  if (start_extra == NULL)
    {
      fprintf (stderr, "tactus-run: out of memory\n");
      broker_workspace_close (ws);
      if (job->prepared)
        sandbox_destroy (job->prepared);
      return -1;
    }
  if (cfg->workspace != CONFIG_WORKSPACE_OFF
      && procedure_dir_in_workspace (job->workspace_dir ? job->workspace_dir : cwd,
                                     bo.procedure_dir, rel_dir, sizeof rel_dir)
             == 0)
    cJSON_AddStringToObject (start_extra, "procedure_dir", rel_dir);
  bo.workspace = ws;
  bo.procedure_name = name;
  bo.params = job->params;
  bo.start_extra = start_extra;
  bo.mock_all = job->mock_all;
  bo.storage = job->storage;
  bo.storage_dir = store.dir;
  bo.store = &store;
  bo.stored = stored;
  bo.approve = job->approve;
  bo.approve_set = job->approve_set;
  bo.policy = &cfg->policy;
  bo.trace = job->trace;
  bo.max_violations = 16;
  bo.llm_base_url = llm_base_url (cfg, base_url, sizeof base_url);
  bo.llm_timeout = 120;
  bo.secret_reader = config_read_secret;
  endpoints = calloc (cfg->n_providers + 1, sizeof *endpoints);
  if (endpoints == NULL)
    {
      fprintf (stderr, "tactus-run: out of memory\n");
      return -1;
    }
  for (size_t i = 0; i < cfg->n_providers; i++)
    endpoints[i] = (struct broker_endpoint){ .name = cfg->providers[i].name,
                                             .base_url = cfg->providers[i].base_url,
                                             .api = cfg->providers[i].api,
                                             .region = cfg->providers[i].region,
                                             .api_key_env = cfg->providers[i].api_key_env };
  bo.endpoints = endpoints;
  bo.n_endpoints = cfg->n_providers;
  bo.aws_region = cfg->aws_region;
  bo.aws_profile = cfg->aws_profile;
  bo.price_overrides = cfg->model_prices;
  bo.egress = &cfg->egress;
  bo.mcp_servers = cfg->mcp;
  bo.n_mcp_servers = cfg->n_mcp;
  bo.workspace_dir = job->workspace_dir ? job->workspace_dir : cwd;
  bo.grace_seconds = 2.0;

  if (job->prepared)
    {
      cleanup_free char *packed = NULL;
      struct sandbox_go go = { .workspace_dir = job->workspace_dir, .timeout_seconds = timeout };
      /* The cage has no workspace, but its root is still the workspace
       * owner on the host, as before (a root launcher; see sandbox.md).  */
      go.host_ids = broker_workspace_owner (ws, &go.host_uid, &go.host_gid);
      sb = job->prepared;
      vm.jit = cfg->jit; /* fixed when the sandbox was prepared (its seccomp profile) */
      vm.memory_limit = cfg->memory ? cfg->memory : DEFAULT_VM_MEMORY;
      if (vm_config_pack (&vm, &packed, &go.payload_len) < 0)
        {
          fprintf (stderr, "tactus-run: out of memory\n");
          sandbox_destroy (sb);
          broker_workspace_close (ws);
          return -1;
        }
      go.payload = packed;
      if (sandbox_go (sb, &go, &err) < 0)
        {
          present_error (stderr, "the sandbox could not be started: ", &err);
          sandbox_destroy (sb);
          broker_workspace_close (ws);
          return -1;
        }
      sandbox_peer (sb, &peer);
    }
  else if (sandboxed)
    {
      struct sandbox_spec spec;
      uid_t owner;
      gid_t group;
      vm_env = vm_environment (cfg);
      fill_spec (&spec, cfg, timeout, &vm, vm_env);
      if (broker_workspace_owner (ws, &owner, &group) && owner != 0)
        {
          spec.host_uid = owner;
          if (group != 0)
            spec.host_gid = group;
        }
      if (sandbox_start (&spec, &sb, &err) < 0)
        {
          present_error (stderr, "the sandbox could not be built: ", &err);
          fprintf (stderr, "  (run 'tactus-run sandbox status' to see what this host supports; "
                           "--no-sandbox runs without isolation)\n");
          broker_workspace_close (ws);
          return -1;
        }
      sandbox_peer (sb, &peer);
    }
  else
    {
      if (!job->quiet_unsandboxed)
        fprintf (stderr, "tactus-run: WARNING: running WITHOUT the sandbox: the procedure has the "
                         "same access as you\n");
      if (start_plain (&vm, timeout, &plain, &peer.fd, &err) < 0)
        {
          present_error (stderr, NULL, &err);
          broker_workspace_close (ws);
          return -1;
        }
      peer.pidfd = plain.pidfd;
      peer.pid = plain.pid;
      peer.ctx = &plain;
      peer.ms_left = plain_ms_left;
      peer.kill = plain_kill;
      peer.signal = plain_signal;
    }

  rc = broker_serve (&bo, &peer, &res->out, &err);
  if (rc < 0)
    present_error (stderr, NULL, &err);
  broker_workspace_close (ws);
  if (sb)
    {
      if (res->out.timed_out)
        sandbox_mark_timed_out (sb);
      if (sandbox_wait (sb, &sres, &err) == 0)
        {
          res->vm_status = sres.timed_out ? 124 : sres.exit_code;
          vm_signal = sres.signal;
        }
      sandbox_destroy (sb);
    }
  else
    {
      siginfo_t si = { 0 };
      int w;
      if (plain.pidfd >= 0)
        w = waitid (P_PIDFD, (id_t) plain.pidfd, &si, WEXITED);
      else
        while ((w = waitid (P_PID, (id_t) plain.pid, &si, WEXITED)) < 0 && errno == EINTR)
          ;
      if (w == 0)
        {
          res->vm_status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
          vm_signal = si.si_code == CLD_EXITED ? 0 : si.si_status;
          sres.seccomp = false;
        }
      if (plain.pidfd >= 0)
        close (plain.pidfd);
      close (peer.fd);
    }
  decide (&res->out, res->vm_status, vm_signal, sres.seccomp, sres.oom, timeout, &res->v);
  trace_summary (job->trace, res, elapsed_ms (&t0));
  return 0;
}
