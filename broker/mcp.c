/* MCP tool servers (mcp_servers in the config), brokered.
 *
 * The broker starts a server the first time the VM lists or calls its
 * tools, speaks MCP to it over its stdin/stdout (JSON-RPC 2.0, one message
 * per line: initialize, notifications/initialized, tools/list, tools/call,
 * notifications/cancelled; the server's notifications/message go to the
 * trace, its ping is answered, its other requests refused), and stops it
 * when the run ends (stdin closed, then killed).  Its stderr goes to the
 * trace, line by line.
 *
 * Each server runs in a native cage of its own (this project's sandbox, as
 * `sandbox exec` does): the system directories read-only, its cwd and
 * volumes: bound, the run's workspace only when workspace: says so, no
 * network but the egress proxy when sandbox.network.allow lists endpoints,
 * and in its environment only its own env: from the config (read with the
 * secrets only now, wiped from the broker once the server has it: the next
 * server's cage, a copy of this process, cannot find them).  sandbox: false
 * runs it on the host instead, with a warning.
 *
 * Calls follow the same policy as host tools (policy.tools lists
 * mcp.SERVER.TOOL or mcp.SERVER.*; stages; approvals).  Everything a server
 * says is untrusted: sizes bounded, shapes checked, a server that hangs
 * past its timeout gets notifications/cancelled and the call a ToolError, a
 * server that dies is a clear error naming its exit and last stderr.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/egress.h"
#include "broker/internal.h"
#include "broker/trace.h"
#include "common/strv.h"
#include "policy/config.h"
#include "policy/egress.h"
#include "sandbox/sandbox.h"

#define MAX_LINE (8 << 20)
#define MAX_TOOLS 256
#define MAX_PAGES 16
#define INIT_TIMEOUT 30.0
#define DEFAULT_TIMEOUT 60.0
#define STOP_GRACE_MS 2000
#define PROTOCOL_VERSION "2025-06-18"

struct mcp_server
{
  const struct config_mcp_server *cfg;
  bool started, dead;
  char dead_why[600];
  struct sandbox *sb; /* caged */
  pid_t pid;          /* uncaged */
  int pidfd;          /* uncaged, -1 */
  int in, out, err;   /* our ends: its stdin, stdout, stderr */
  char *obuf;         /* stdout: the unfinished line */
  size_t olen, ocap;
  char ebuf[4096]; /* stderr: the unfinished line */
  size_t elen;
  char last_err[600]; /* its last stderr lines, for error messages */
  long next_id;
  cJSON *tools; /* tools/list, cached */
  struct sandbox_bind *binds;
  size_t n_binds;
  char **envp, **argv;
  char *cwd;
};

static int64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
mcp_event (struct broker_state *b, const struct mcp_server *m, const char *what, const char *detail)
{
  cJSON *ev = cJSON_CreateObject ();
  cJSON_AddStringToObject (ev, "event_type", "mcp");
  cJSON_AddStringToObject (ev, "server", m->cfg->name);
  cJSON_AddStringToObject (ev, "event", what);
  if (detail)
    cJSON_AddStringToObject (ev, "message", detail);
  trace_event (b->o->trace, ev);
  cJSON_Delete (ev);
}

/* ---- the servers -------------------------------------------------------------------------- */

static void
ensure_table (struct broker_state *b)
{
  if (b->mcp || b->o->n_mcp_servers == 0)
    return;
  b->mcp = calloc (b->o->n_mcp_servers, sizeof *b->mcp);
  if (b->mcp == NULL)
    return;
  b->n_mcp = b->o->n_mcp_servers;
  for (size_t i = 0; i < b->n_mcp; i++)
    {
      b->mcp[i].cfg = &b->o->mcp_servers[i];
      b->mcp[i].in = b->mcp[i].out = b->mcp[i].err = b->mcp[i].pidfd = -1;
    }
}

static struct mcp_server *
find_server (struct broker_state *b, const char *name)
{
  ensure_table (b);
  for (size_t i = 0; i < b->n_mcp; i++)
    if (strcmp (b->mcp[i].cfg->name, name) == 0)
      return &b->mcp[i];
  return NULL;
}

cJSON *
broker_mcp_names (const struct broker_state *b)
{
  cJSON *list = cJSON_CreateArray ();
  for (size_t i = 0; i < b->o->n_mcp_servers; i++)
    cJSON_AddItemToArray (list, cJSON_CreateString (b->o->mcp_servers[i].name));
  return list;
}

/* Its stderr, line by line, to the trace; the last lines kept.  */
static void
read_stderr (struct broker_state *b, struct mcp_server *m)
{
  ssize_t n;

  while (m->err >= 0 && (n = read (m->err, m->ebuf + m->elen, sizeof m->ebuf - 1 - m->elen)) != 0)
    {
      char *nl;
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno != EAGAIN)
            {
              close (m->err);
              m->err = -1;
            }
          return;
        }
      m->elen += (size_t) n;
      m->ebuf[m->elen] = '\0';
      while ((nl = memchr (m->ebuf, '\n', m->elen)) != NULL || m->elen == sizeof m->ebuf - 1)
        {
          size_t used = nl ? (size_t) (nl - m->ebuf) + 1 : m->elen;
          cJSON *ev = cJSON_CreateObject ();
          char logger[80];
          if (nl)
            *nl = '\0';
          snprintf (logger, sizeof logger, "mcp.%s", m->cfg->name);
          cJSON_AddStringToObject (ev, "event_type", "log");
          cJSON_AddStringToObject (ev, "level", "INFO");
          cJSON_AddStringToObject (ev, "message", m->ebuf);
          cJSON_AddStringToObject (ev, "logger_name", logger);
          trace_event (b->o->trace, ev);
          cJSON_Delete (ev);
          snprintf (m->last_err, sizeof m->last_err, "%.590s", m->ebuf);
          memmove (m->ebuf, m->ebuf + used, m->elen - used);
          m->elen -= used;
          m->ebuf[m->elen] = '\0';
        }
    }
  /* EOF */
  close (m->err);
  m->err = -1;
}

static void
expand_into (char **dst, const char *src)
{
  *dst = src ? config_expand (src) : NULL;
}

/* The cage: like `sandbox exec`, with the server's own binds, workspace
 * and environment, and stdio on pipes to the broker.  */
static int
start_caged (struct broker_state *b, struct mcp_server *m, int fds[3], struct tr_error *err)
{
  const struct config_mcp_server *c = m->cfg;
  struct sandbox_spec *spec = calloc (1, sizeof *spec);
  bool egress = egress_enabled (b->o->egress);
  int rc;

  if (spec == NULL)
    return tr_fail (err, ENOMEM, "MCP server %s", c->name);
  m->binds = calloc (c->n_volumes + 2, sizeof *m->binds);
  if (m->binds == NULL)
    {
      free (spec);
      return tr_fail (err, ENOMEM, "MCP server %s", c->name);
    }
  /* Its own directory, read-only, where it is on the host.  */
  if (m->cwd && m->cwd[0] == '/')
    m->binds[m->n_binds++] = (struct sandbox_bind){ .source = m->cwd, .target = m->cwd };
  for (size_t i = 0; i < c->n_volumes; i++)
    m->binds[m->n_binds++] = (struct sandbox_bind){ .source = c->volumes[i].source,
                                                    .target = c->volumes[i].target,
                                                    .writable = c->volumes[i].writable };
  sandbox_spec_init (spec);
  spec->argv = m->argv;
  spec->envp = m->envp;
  spec->seccomp = SANDBOX_SECCOMP_NATIVE;
  spec->system_binds = true;
  spec->binds = m->binds;
  spec->n_binds = m->n_binds;
  spec->cwd = m->cwd && m->cwd[0] == '/' ? m->cwd : NULL;
  spec->workspace_dir = b->o->workspace_dir;
  spec->workspace = c->workspace == CONFIG_WORKSPACE_RW        ? SANDBOX_WORKSPACE_RW
                    : c->workspace == CONFIG_WORKSPACE_RO      ? SANDBOX_WORKSPACE_RO
                    : c->workspace == CONFIG_WORKSPACE_OVERLAY ? SANDBOX_WORKSPACE_OVERLAY
                                                               : SANDBOX_WORKSPACE_OFF;
  spec->use_stdio_fd = true;
  memcpy (spec->stdio_fd, fds, sizeof spec->stdio_fd);
  spec->limits.pids = 512;
  spec->limits.nofile = 1024;
  spec->limits.memory_bytes = 2ull << 30;
  spec->hostname = "mcp";
  if (egress)
    spec->loopback_listen_port = EGRESS_PORT;
  rc = sandbox_start (spec, &m->sb, err);
  /* The spec is needed no more once the cage runs.  */
  free (spec);
  if (rc < 0)
    return -1;
  if (egress)
    {
      char label[80];
      snprintf (label, sizeof label, "mcp.%s", c->name);
      broker_egress_serve (b, sandbox_take_listen_fd (m->sb), label);
    }
  return 0;
}

static int
start_uncaged (struct broker_state *b, struct mcp_server *m, int fds[3], struct tr_error *err)
{
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  int rc;

  mcp_event (b, m, "warning",
             "this MCP server runs WITHOUT a sandbox (mcp_servers.NAME.sandbox: false): it has "
             "your access to your files and network");
  trace_note (b->o->trace, "log", "WARNING",
              "MCP server '%s' runs WITHOUT a sandbox (mcp_servers.%s.sandbox: false)",
              m->cfg->name, m->cfg->name);
  posix_spawn_file_actions_init (&fa);
  posix_spawnattr_init (&at);
  for (int i = 0; i < 3; i++)
    posix_spawn_file_actions_adddup2 (&fa, fds[i], i);
  if (m->cwd)
    posix_spawn_file_actions_addchdir_np (&fa, m->cwd);
  /* Its own process group, so stopping it stops what it started.  */
  posix_spawnattr_setflags (&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup (&at, 0);
  {
    sigset_t none;
    sigemptyset (&none);
    posix_spawnattr_setsigmask (&at, &none);
  }
  rc = posix_spawnp (&m->pid, m->argv[0], &fa, &at, m->argv, m->envp);
  posix_spawn_file_actions_destroy (&fa);
  posix_spawnattr_destroy (&at);
  if (rc != 0)
    return tr_fail (err, rc, "MCP server %s: cannot start %s", m->cfg->name, m->argv[0]);
  m->pidfd = pidfd_open (m->pid, 0);
  return 0;
}

static int send_line (struct broker_state *b, struct mcp_server *m, cJSON *msg, char *why,
                      size_t whysize);
static cJSON *rpc (struct broker_state *b, struct mcp_server *m, const char *method, cJSON *params,
                   double timeout, const char **etype, char *why, size_t whysize);

static int
start_server (struct broker_state *b, struct mcp_server *m, char *why, size_t whysize)
{
  const struct config_mcp_server *c = m->cfg;
  int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 }, fds[3];
  char **env = NULL, *cmd = NULL, home[PATH_MAX + 8];
  struct tr_error err;
  const char *etype;
  cJSON *params, *res;
  int rc;

  if (m->dead)
    {
      snprintf (why, whysize, "%s", m->dead_why);
      return -1;
    }
  if (m->started)
    return 0;
  m->started = true;
  tr_error_clear (&err);
  /* ${VAR} from the host environment, now.  */
  expand_into (&cmd, c->command);
  expand_into (&m->cwd, c->cwd);
  strv_push (&m->argv, cmd ? cmd : "");
  for (char **a = c->args; a && *a; a++)
    {
      char *x = config_expand (*a);
      strv_push (&m->argv, x ? x : "");
      if (x)
        explicit_bzero (x, strlen (x)), free (x);
    }
  free (cmd);
  /* Its environment: a minimal one, its own env: (secrets read now), the
   * egress proxy's when the cage may reach out.  Nothing of ours.  */
  strv_push (&m->envp, "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
  snprintf (home, sizeof home, "HOME=%s",
            c->sandbox ? (m->cwd && m->cwd[0] == '/' ? m->cwd : "/")
                       : (getenv ("HOME") ? getenv ("HOME") : "/"));
  strv_push (&m->envp, home);
  strv_push (&m->envp, "TERM=dumb");
  if (c->sandbox && egress_enabled (b->o->egress))
    for (const char *const *e = egress_env; *e; e++)
      strv_push (&m->envp, *e);
  env = config_read_mcp_env (b->o->procedure_path, c->name);
  for (char **e = env; e && *e; e++)
    strv_push (&m->envp, *e);
  config_wipe_strv (env);
  if (pipe2 (in, O_CLOEXEC) < 0 || pipe2 (out, O_CLOEXEC) < 0 || pipe2 (er, O_CLOEXEC) < 0)
    {
      tr_fail (&err, errno, "MCP server %s: pipes", c->name);
      rc = -1;
    }
  else
    {
      fds[0] = in[0], fds[1] = out[1], fds[2] = er[1];
      rc = c->sandbox ? start_caged (b, m, fds, &err) : start_uncaged (b, m, fds, &err);
    }
  /* Its secrets are its own: none stays in the broker, whose memory the
   * next cage starts as a copy of.  */
  config_wipe_strv (m->envp);
  m->envp = NULL;
  for (int i = 0; i < 2; i++)
    {
      if (i == 0 && in[0] >= 0)
        close (in[0]);
      if (i == 1 && out[1] >= 0)
        close (out[1]);
    }
  if (er[1] >= 0)
    close (er[1]);
  m->in = in[1];
  m->out = out[0];
  m->err = er[0];
  if (rc < 0)
    {
      snprintf (m->dead_why, sizeof m->dead_why, "MCP server '%s' could not be started: %s",
                c->name, err.msg);
      m->dead = true;
      snprintf (why, whysize, "%s", m->dead_why);
      mcp_event (b, m, "failed", err.msg);
      return -1;
    }
  if (m->err >= 0)
    fcntl (m->err, F_SETFL, fcntl (m->err, F_GETFL) | O_NONBLOCK);
  fcntl (m->out, F_SETFL, fcntl (m->out, F_GETFL) | O_NONBLOCK);
  mcp_event (b, m, "started", c->sandbox ? "in its own sandbox" : "without a sandbox");
  /* The handshake.  */
  params = cJSON_CreateObject ();
  cJSON_AddStringToObject (params, "protocolVersion", PROTOCOL_VERSION);
  cJSON_AddObjectToObject (params, "capabilities");
  {
    cJSON *ci = cJSON_AddObjectToObject (params, "clientInfo");
    cJSON_AddStringToObject (ci, "name", "tactus-run");
    cJSON_AddStringToObject (ci, "version", "1");
  }
  res = rpc (b, m, "initialize", params, INIT_TIMEOUT, &etype, why, whysize);
  if (res == NULL)
    {
      if (!m->dead)
        {
          m->dead = true;
          snprintf (m->dead_why, sizeof m->dead_why, "MCP server '%s' did not initialize: %s",
                    c->name, why);
        }
      snprintf (why, whysize, "%s", m->dead_why);
      return -1;
    }
  cJSON_Delete (res);
  {
    cJSON *note = cJSON_CreateObject ();
    cJSON_AddStringToObject (note, "jsonrpc", "2.0");
    cJSON_AddStringToObject (note, "method", "notifications/initialized");
    if (send_line (b, m, note, why, whysize) < 0)
      return -1;
  }
  return 0;
}

/* The server is gone (EOF on its stdout): why, with its exit status and
 * last words.  */
static void
mark_dead (struct broker_state *b, struct mcp_server *m, const char *what)
{
  int status = -1;
  char how[80] = "";

  if (m->dead)
    return;
  m->dead = true;
  read_stderr (b, m);
  if (m->sb)
    {
      struct sandbox_result r;
      struct tr_error e;
      int64_t until = now_ms () + 1000;
      int reaped;
      /* Its stdout closed: it exits now, or has.  */
      while ((reaped = sandbox_try_reap (m->sb, &r, &e)) == 0 && now_ms () < until)
        usleep (10000);
      if (reaped == 1)
        status = r.exit_code;
    }
  else if (m->pid > 0 && waitpid (m->pid, &status, WNOHANG) == m->pid)
    {
      status = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
      m->pid = 0;
    }
  if (status >= 0)
    snprintf (how, sizeof how, " (exit status %d)", status);
  snprintf (m->dead_why, sizeof m->dead_why, "MCP server '%s' %s%s%s%s", m->cfg->name, what, how,
            m->last_err[0] ? "; its last words: " : "", m->last_err);
  mcp_event (b, m, "exited", m->dead_why);
}

static int
send_line (struct broker_state *b, struct mcp_server *m, cJSON *msg, char *why, size_t whysize)
{
  char *text = cJSON_PrintUnformatted (msg);
  size_t len, off = 0;
  int64_t until = now_ms () + 10000;

  cJSON_Delete (msg);
  if (text == NULL)
    {
      snprintf (why, whysize, "out of memory");
      return -1;
    }
  len = strlen (text);
  text[len++] = '\n'; /* over the NUL: the length is kept */
  while (off < len)
    {
      struct pollfd p = { .fd = m->in, .events = POLLOUT };
      ssize_t w;
      if (poll (&p, 1, (int) (until - now_ms () > 0 ? until - now_ms () : 0)) != 1)
        {
          snprintf (why, whysize, "MCP server '%s' does not read its input", m->cfg->name);
          cJSON_free (text);
          return -1;
        }
      w = write (m->in, text + off, len - off);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        {
          cJSON_free (text);
          mark_dead (b, m, "closed its input");
          snprintf (why, whysize, "%s", m->dead_why);
          return -1;
        }
      off += (size_t) w;
    }
  cJSON_free (text);
  return 0;
}

/* A message from the server that is not the answer we wait for.  */
static void
on_other (struct broker_state *b, struct mcp_server *m, cJSON *msg)
{
  const cJSON *method = cJSON_GetObjectItemCaseSensitive (msg, "method");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive (msg, "id");
  const cJSON *params = cJSON_GetObjectItemCaseSensitive (msg, "params");
  char why[100];

  if (!cJSON_IsString (method))
    return; /* a late answer to a cancelled request */
  if (id && !cJSON_IsNull (id))
    {
      /* A request from the server: ping is answered; sampling, roots,
       * elicitation... are capabilities this client does not offer.  */
      cJSON *reply = cJSON_CreateObject ();
      cJSON_AddStringToObject (reply, "jsonrpc", "2.0");
      cJSON_AddItemToObject (reply, "id", cJSON_Duplicate (id, 1));
      if (strcmp (method->valuestring, "ping") == 0)
        cJSON_AddObjectToObject (reply, "result");
      else
        {
          cJSON *e = cJSON_AddObjectToObject (reply, "error");
          cJSON_AddNumberToObject (e, "code", -32601);
          cJSON_AddStringToObject (e, "message", "method not supported by tactus-run");
        }
      send_line (b, m, reply, why, sizeof why);
      return;
    }
  if (strcmp (method->valuestring, "notifications/message") == 0)
    {
      const cJSON *level = cJSON_GetObjectItemCaseSensitive (params, "level");
      const cJSON *data = cJSON_GetObjectItemCaseSensitive (params, "data");
      char *text = data ? (cJSON_IsString (data) ? strdup (data->valuestring)
                                                 : cJSON_PrintUnformatted (data))
                        : NULL;
      cJSON *ev = cJSON_CreateObject ();
      char logger[80];
      snprintf (logger, sizeof logger, "mcp.%s", m->cfg->name);
      cJSON_AddStringToObject (ev, "event_type", "log");
      cJSON_AddStringToObject (
          ev, "level",
          cJSON_IsString (level)
                  && (strcmp (level->valuestring, "error") == 0
                      || strcmp (level->valuestring, "critical") == 0)
              ? "ERROR"
          : cJSON_IsString (level) && strcmp (level->valuestring, "warning") == 0 ? "WARNING"
                                                                                  : "INFO");
      cJSON_AddStringToObject (ev, "message", text ? text : "");
      cJSON_AddStringToObject (ev, "logger_name", logger);
      trace_event (b->o->trace, ev);
      cJSON_Delete (ev);
      free (text);
    }
  else if (strcmp (method->valuestring, "notifications/tools/list_changed") == 0)
    {
      cJSON_Delete (m->tools);
      m->tools = NULL;
    }
  /* progress and others: nothing to do.  */
}

/* One request and its answer within TIMEOUT seconds (and the run's
 * deadline; a stop signal ends the wait too).  The result, or NULL with
 * *ETYPE (ToolError, Cancelled) and WHY.  */
static cJSON *
rpc (struct broker_state *b, struct mcp_server *m, const char *method, cJSON *params,
     double timeout, const char **etype, char *why, size_t whysize)
{
  cJSON *req = cJSON_CreateObject ();
  long id = ++m->next_id;
  int64_t until = now_ms () + (int64_t) (timeout * 1000);

  *etype = "ToolError";
  cJSON_AddStringToObject (req, "jsonrpc", "2.0");
  cJSON_AddNumberToObject (req, "id", (double) id);
  cJSON_AddStringToObject (req, "method", method);
  cJSON_AddItemToObject (req, "params", params ? params : cJSON_CreateObject ());
  if (send_line (b, m, req, why, whysize) < 0)
    return NULL;
  for (;;)
    {
      /* Its stdout and stderr, and the egress proxy's events: a server that
       * makes many connections during a call must not find the event pipe
       * full (the proxy would wait for the broker, which waits here).  */
      struct pollfd p[3] = { { .fd = m->out, .events = POLLIN },
                             { .fd = m->err, .events = POLLIN },
                             { .fd = egress_event_fd (b->egress), .events = POLLIN } };
      int left = (int) (until - now_ms ()), run_left = b->peer->ms_left (b->peer->ctx), n;
      sigset_t pending;
      char *nl;

      sigpending (&pending);
      if (run_left == 0 || sigismember (&pending, SIGINT) || sigismember (&pending, SIGTERM)
          || left <= 0)
        {
          /* Tell the server to stop working on it (MCP cancellation).  */
          cJSON *note = cJSON_CreateObject (), *np = cJSON_CreateObject ();
          char w2[100];
          cJSON_AddStringToObject (note, "jsonrpc", "2.0");
          cJSON_AddStringToObject (note, "method", "notifications/cancelled");
          cJSON_AddNumberToObject (np, "requestId", (double) id);
          cJSON_AddStringToObject (np, "reason", left <= 0 ? "timed out" : "the run is stopping");
          cJSON_AddItemToObject (note, "params", np);
          send_line (b, m, note, w2, sizeof w2);
          if (left <= 0)
            snprintf (why, whysize,
                      "MCP server '%s' did not answer %s within %.3g s (cancelled; "
                      "mcp_servers.%s.timeout)",
                      m->cfg->name, method, timeout, m->cfg->name);
          else
            {
              *etype = "Cancelled";
              snprintf (why, whysize,
                        "the call to MCP server '%s' was stopped (deadline or signal)",
                        m->cfg->name);
            }
          return NULL;
        }
      if (run_left > 0 && run_left < left)
        left = run_left;
      n = poll (p, 3, left > 100 ? 100 : left); /* signals are checked every 100 ms */
      if (n < 0 && errno != EINTR)
        {
          snprintf (why, whysize, "poll: %s", strerror (errno));
          return NULL;
        }
      if (p[1].revents)
        read_stderr (b, m);
      if (p[2].revents)
        egress_drain (b->egress, b->o->trace);
      if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      for (;;)
        {
          ssize_t r;
          if (m->olen + 65536 + 1 > m->ocap)
            {
              size_t cap = m->ocap ? m->ocap * 2 : 65536 * 2;
              char *nb = m->olen + 65536 + 1 > MAX_LINE + 65536 + 1 ? NULL : realloc (m->obuf, cap);
              if (nb == NULL)
                {
                  mark_dead (b, m, "sent a message larger than 8 MiB");
                  snprintf (why, whysize, "%s", m->dead_why);
                  return NULL;
                }
              m->obuf = nb;
              m->ocap = cap;
            }
          r = read (m->out, m->obuf + m->olen, m->ocap - m->olen - 1);
          if (r < 0 && errno == EINTR)
            continue;
          if (r < 0)
            break; /* EAGAIN */
          if (r == 0)
            {
              mark_dead (b, m, "exited");
              snprintf (why, whysize, "%s", m->dead_why);
              return NULL;
            }
          m->olen += (size_t) r;
          m->obuf[m->olen] = '\0';
        }
      while ((nl = memchr (m->obuf, '\n', m->olen)) != NULL)
        {
          size_t used = (size_t) (nl - m->obuf) + 1;
          cJSON *msg = cJSON_ParseWithLength (m->obuf, used - 1);
          const cJSON *mid = cJSON_GetObjectItemCaseSensitive (msg, "id");
          memmove (m->obuf, m->obuf + used, m->olen - used);
          m->olen -= used;
          m->obuf[m->olen] = '\0';
          if (!cJSON_IsObject (msg))
            {
              /* Not JSON-RPC (a server printing to stdout): noted, skipped.  */
              cJSON_Delete (msg);
              trace_note (b->o->trace, "log", "WARNING",
                          "MCP server '%s' wrote a line to stdout that is not a JSON-RPC message",
                          m->cfg->name);
              continue;
            }
          if (cJSON_IsNumber (mid) && mid->valuedouble == (double) id
              && !cJSON_HasObjectItem (msg, "method"))
            {
              const cJSON *res = cJSON_GetObjectItemCaseSensitive (msg, "result");
              const cJSON *e = cJSON_GetObjectItemCaseSensitive (msg, "error");
              cJSON *out = NULL;
              if (cJSON_IsObject (res))
                out = cJSON_DetachItemFromObjectCaseSensitive (msg, "result");
              else
                {
                  const cJSON *em = cJSON_GetObjectItemCaseSensitive (e, "message");
                  snprintf (why, whysize, "MCP server '%s' answered %s with an error: %.300s",
                            m->cfg->name, method,
                            cJSON_IsString (em) ? em->valuestring
                                                : "(no result, no error message)");
                }
              cJSON_Delete (msg);
              return out;
            }
          on_other (b, m, msg);
          cJSON_Delete (msg);
        }
      if (m->olen > MAX_LINE)
        {
          mark_dead (b, m, "sent a line larger than 8 MiB");
          snprintf (why, whysize, "%s", m->dead_why);
          return NULL;
        }
    }
}

/* tools/list, every page; cached until the server says the list changed.  */
static const cJSON *
server_tools (struct broker_state *b, struct mcp_server *m, const char **etype, char *why,
              size_t whysize)
{
  double timeout = m->cfg->timeout > 0 ? m->cfg->timeout : DEFAULT_TIMEOUT;
  cJSON *all;
  char *cursor = NULL;

  if (m->tools)
    return m->tools;
  *etype = "ToolError";
  if (start_server (b, m, why, whysize) < 0)
    return NULL;
  all = cJSON_CreateArray ();
  for (int page = 0; page < MAX_PAGES; page++)
    {
      cJSON *params = cJSON_CreateObject (), *res;
      const cJSON *tools, *next, *t;
      if (cursor)
        cJSON_AddStringToObject (params, "cursor", cursor);
      free (cursor);
      cursor = NULL;
      res = rpc (b, m, "tools/list", params, timeout, etype, why, whysize);
      if (res == NULL)
        {
          cJSON_Delete (all);
          return NULL;
        }
      tools = cJSON_GetObjectItemCaseSensitive (res, "tools");
      cJSON_ArrayForEach (t, tools)
      {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive (t, "name");
        const cJSON *desc = cJSON_GetObjectItemCaseSensitive (t, "description");
        const cJSON *schema = cJSON_GetObjectItemCaseSensitive (t, "inputSchema");
        cJSON *x;
        if (!cJSON_IsString (name) || name->valuestring[0] == '\0'
            || strlen (name->valuestring) > 128 || cJSON_GetArraySize (all) >= MAX_TOOLS)
          continue;
        x = cJSON_CreateObject ();
        cJSON_AddStringToObject (x, "name", name->valuestring);
        if (cJSON_IsString (desc))
          cJSON_AddStringToObject (x, "description", desc->valuestring);
        cJSON_AddItemToObject (x, "inputSchema",
                               cJSON_IsObject (schema) ? cJSON_Duplicate (schema, 1)
                                                       : cJSON_Parse ("{\"type\":\"object\"}"));
        cJSON_AddItemToArray (all, x);
      }
      next = cJSON_GetObjectItemCaseSensitive (res, "nextCursor");
      if (cJSON_IsString (next) && next->valuestring[0])
        cursor = strdup (next->valuestring);
      cJSON_Delete (res);
      if (cursor == NULL)
        break;
    }
  free (cursor);
  m->tools = all;
  return all;
}

static struct mcp_server *
server_param (struct broker_state *b, const cJSON *id, const cJSON *params)
{
  const cJSON *name = cJSON_GetObjectItemCaseSensitive (params, "server");
  struct mcp_server *m;

  if (!cJSON_IsString (name))
    {
      broker_violation (b, id, "mcp.list_tools and mcp.call_tool need params.server");
      return NULL;
    }
  m = find_server (b, name->valuestring);
  if (m == NULL)
    broker_reply_error (b, id, "MCPNotConfigured",
                        "no MCP server '%.60s' in the config (add it under mcp_servers: with its "
                        "command)",
                        name->valuestring);
  return m;
}

void
broker_mcp_list (struct broker_state *b, const cJSON *id, const cJSON *params)
{
  struct mcp_server *m = server_param (b, id, params);
  const cJSON *tools;
  const char *etype;
  char why[800];
  cJSON *data;

  if (m == NULL)
    return;
  tools = server_tools (b, m, &etype, why, sizeof why);
  if (tools == NULL)
    return (void) broker_reply_error (b, id, etype, "%s", why);
  data = cJSON_CreateObject ();
  cJSON_AddItemToObject (data, "tools", cJSON_Duplicate (tools, 1));
  broker_reply (b, id, "done", data);
}

/* A tools/call result as the VM gets it: structuredContent when there is
 * one, else the text of its text parts, else its content as it is.  */
static cJSON *
result_value (const cJSON *res, bool *is_error, char *text, size_t size)
{
  const cJSON *sc = cJSON_GetObjectItemCaseSensitive (res, "structuredContent");
  const cJSON *content = cJSON_GetObjectItemCaseSensitive (res, "content");
  const cJSON *c;
  size_t len = 0;
  bool all_text = true;
  char *joined = NULL;

  *is_error = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (res, "isError"));
  text[0] = '\0';
  cJSON_ArrayForEach (c, content)
  {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive (c, "text");
    if (!cJSON_IsString (t))
      {
        all_text = false;
        continue;
      }
    size_t n = strlen (t->valuestring);
    char *nb = realloc (joined, len + n + 2);
    if (nb == NULL)
      break;
    joined = nb;
    if (len)
      joined[len++] = '\n';
    memcpy (joined + len, t->valuestring, n + 1);
    len += n;
  }
  if (joined)
    snprintf (text, size, "%s", joined);
  if (cJSON_IsObject (sc) && !*is_error)
    {
      free (joined);
      return cJSON_Duplicate (sc, 1);
    }
  if (all_text && joined)
    {
      cJSON *s = cJSON_CreateString (joined);
      free (joined);
      return s;
    }
  free (joined);
  return content ? cJSON_Duplicate (content, 1) : cJSON_CreateNull ();
}

void
broker_mcp_call (struct broker_state *b, const cJSON *id, const cJSON *params)
{
  const cJSON *tool = cJSON_GetObjectItemCaseSensitive (params, "name");
  const cJSON *args = cJSON_GetObjectItemCaseSensitive (params, "args");
  static const cJSON empty = { .type = cJSON_Object };
  struct mcp_server *m;
  char full[256], why[800], text[800];
  const char *etype;
  cJSON *p, *res, *value, *data;
  bool is_error;

  if (!cJSON_IsString (tool) || tool->valuestring[0] == '\0' || strlen (tool->valuestring) > 128
      || strpbrk (tool->valuestring, "\n\r\t ") != NULL)
    return broker_violation (b, id, "mcp.call_tool needs params.name, a tool name");
  if (args == NULL)
    args = &empty;
  if (!cJSON_IsObject (args))
    return broker_violation (b, id, "mcp.call_tool params.args must be an object");
  if ((m = server_param (b, id, params)) == NULL)
    return;
  snprintf (full, sizeof full, "mcp.%s.%s", m->cfg->name, tool->valuestring);
  if (broker_tool_allowed (b, id, full, args, "MCP tool") == NULL)
    return;
  if (start_server (b, m, why, sizeof why) < 0)
    return (void) broker_reply_error (b, id, "ToolError", "%s", why);
  p = cJSON_CreateObject ();
  cJSON_AddStringToObject (p, "name", tool->valuestring);
  cJSON_AddItemToObject (p, "arguments", cJSON_Duplicate (args, 1));
  res = rpc (b, m, "tools/call", p, m->cfg->timeout > 0 ? m->cfg->timeout : DEFAULT_TIMEOUT, &etype,
             why, sizeof why);
  if (res == NULL)
    return (void) broker_reply_error (b, id, etype, "%s", why);
  value = result_value (res, &is_error, text, sizeof text);
  cJSON_Delete (res);
  if (is_error)
    {
      cJSON_Delete (value);
      return (void) broker_reply_error (b, id, "ToolError", "MCP tool %s failed: %s", full,
                                        text[0] ? text : "(no message)");
    }
  data = cJSON_CreateObject ();
  cJSON_AddItemToObject (data, "result", value);
  broker_reply (b, id, "done", data);
}

static void
stop_server (struct broker_state *b, struct mcp_server *m)
{
  int pidfd;
  int64_t until;

  if (!m->started)
    return;
  /* MCP's stdio shutdown: close its input, give it a moment, then kill.  */
  if (m->in >= 0)
    close (m->in);
  m->in = -1;
  pidfd = m->sb ? sandbox_pidfd (m->sb) : m->pidfd;
  until = now_ms () + STOP_GRACE_MS;
  while (pidfd >= 0 && now_ms () < until)
    {
      struct pollfd p[2]
          = { { .fd = pidfd, .events = POLLIN }, { .fd = m->err, .events = POLLIN } };
      if (poll (p, 2, (int) (until - now_ms ())) <= 0)
        break;
      if (p[1].revents)
        read_stderr (b, m);
      if (p[0].revents & POLLIN)
        break;
    }
  if (m->sb)
    {
      struct sandbox_result r;
      struct tr_error e;
      sandbox_kill (m->sb);
      sandbox_wait (m->sb, &r, &e);
      sandbox_destroy (m->sb);
      m->sb = NULL;
    }
  else if (m->pid > 0)
    {
      kill (-m->pid, SIGKILL); /* its process group */
      waitpid (m->pid, NULL, 0);
      m->pid = 0;
    }
  if (m->pidfd >= 0)
    close (m->pidfd);
  m->pidfd = -1;
  read_stderr (b, m);
  if (m->out >= 0)
    close (m->out);
  if (m->err >= 0)
    close (m->err);
  m->out = m->err = -1;
  if (!m->dead)
    mcp_event (b, m, "stopped", NULL);
}

void
broker_mcp_stop_all (struct broker_state *b)
{
  for (size_t i = 0; i < b->n_mcp; i++)
    {
      struct mcp_server *m = &b->mcp[i];
      stop_server (b, m);
      cJSON_Delete (m->tools);
      free (m->obuf);
      free (m->binds);
      free (m->cwd);
      config_wipe_strv (m->argv);
    }
  free (b->mcp);
  b->mcp = NULL;
  b->n_mcp = 0;
  egress_stop (b->egress, b->o->trace);
  b->egress = NULL;
}

/* ---- the broker loop's other fds ---------------------------------------------------------- */

int
broker_egress_serve (struct broker_state *b, int listen_fd, const char *label)
{
  struct tr_error err;

  tr_error_clear (&err);
  if (listen_fd < 0)
    return -1;
  if (b->egress == NULL && egress_start (b->o->egress, &b->egress, &err) < 0)
    {
      close (listen_fd);
      trace_note (b->o->trace, "log", "ERROR", "the egress proxy could not start: %s", err.msg);
      return -1;
    }
  if (egress_serve (b->egress, listen_fd, label, &err) < 0)
    {
      trace_note (b->o->trace, "log", "ERROR", "egress proxy: %s", err.msg);
      return -1;
    }
  return 0;
}

int
broker_watch_fds (struct broker_state *b, struct pollfd *p, int max)
{
  int n = 0;

  if (b->egress && n < max)
    p[n++] = (struct pollfd){ .fd = egress_event_fd (b->egress), .events = POLLIN };
  for (size_t i = 0; i < b->n_mcp && n < max; i++)
    if (b->mcp[i].err >= 0)
      p[n++] = (struct pollfd){ .fd = b->mcp[i].err, .events = POLLIN };
  return n;
}

void
broker_watch_ready (struct broker_state *b, const struct pollfd *p, int n)
{
  for (int i = 0; i < n; i++)
    {
      if (!p[i].revents)
        continue;
      if (b->egress && p[i].fd == egress_event_fd (b->egress))
        egress_drain (b->egress, b->o->trace);
      for (size_t j = 0; j < b->n_mcp; j++)
        if (b->mcp[j].err >= 0 && p[i].fd == b->mcp[j].err)
          read_stderr (b, &b->mcp[j]);
    }
}
