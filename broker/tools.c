/* Host tools: privileged work done by the broker on the VM's behalf.
 * Deny by default: a tool runs only if the policy lists it, only in the
 * stages that allow it, and only after a human's approval when the policy
 * says so.  Built-in tools are tiny and side-effect free; command tools run
 * a host program with the arguments as JSON on stdin.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/internal.h"
#include "broker/trace.h"
#include "common/strv.h"

#define MAX_TOOL_OUTPUT (1 << 20)

extern char **environ;

/* Set NAME=VALUE in ENV (a strv), replacing an earlier NAME.  */
static int
env_set (char ***env, const char *name, size_t nlen, const char *value)
{
  char *kv;
  int r;

  for (char **e = *env; e && *e; e++)
    if (strncmp (*e, name, nlen) == 0 && (*e)[nlen] == '=')
      {
        if (asprintf (&kv, "%.*s=%s", (int) nlen, name, value) < 0)
          return -1;
        free (*e);
        *e = kv;
        return 0;
      }
  if (asprintf (&kv, "%.*s=%s", (int) nlen, name, value) < 0)
    return -1;
  r = strv_push (env, kv);
  free (kv);
  return r;
}

/* VALUE with each ${VAR} replaced by the host's VAR (empty when unset).  */
static char *
expand (const char *value)
{
  size_t cap = strlen (value) + 1, len = 0;
  char *out = malloc (cap);

  for (const char *p = value; out && *p;)
    {
      const char *end = p[0] == '$' && p[1] == '{' ? strchr (p + 2, '}') : NULL;
      const char *ins = p;
      size_t n = 1;
      char name[256];
      if (end && (size_t) (end - p - 2) < sizeof name)
        {
          snprintf (name, sizeof name, "%.*s", (int) (end - p - 2), p + 2);
          ins = getenv (name) ? getenv (name) : "";
          n = strlen (ins);
          p = end + 1;
        }
      else
        p++;
      if (len + n + 1 > cap)
        {
          char *grown = realloc (out, (cap = 2 * (len + n + 1)));
          if (grown == NULL)
            free (out);
          out = grown;
          if (out == NULL)
            break;
        }
      memcpy (out + len, ins, n);
      len += n;
    }
  if (out)
    out[len] = '\0';
  return out;
}

/* A command tool's whole environment: PATH, HOME, TZ, LANG and LC_* from
 * the host, then what its trusted config names (policy.tools.X.env).
 * Nothing else of the broker's environment: provider keys and whatever
 * else the user exported stay out unless named for this tool.  */
static char **
tool_environment (const struct policy_tool *t)
{
  static const char *const base[] = { "PATH", "HOME", "TZ", "LANG", NULL };
  char **env = NULL;
  int r = 0;

  for (const char *const *b = base; *b && r == 0; b++)
    if (getenv (*b))
      r = env_set (&env, *b, strlen (*b), getenv (*b));
  if (r == 0 && getenv ("PATH") == NULL)
    r = env_set (&env, "PATH", 4, "/usr/local/bin:/usr/bin:/bin");
  for (char **e = environ; e && *e && r == 0; e++)
    if (strncmp (*e, "LC_", 3) == 0 && strchr (*e, '='))
      r = env_set (&env, *e, (size_t) (strchr (*e, '=') - *e), strchr (*e, '=') + 1);
  for (char **e = t->env; e && *e && r == 0; e++)
    {
      const char *eq = strchr (*e, '=');
      if (eq == NULL)
        r = getenv (*e) ? env_set (&env, *e, strlen (*e), getenv (*e)) : 0;
      else
        {
          char *v = expand (eq + 1);
          r = v ? env_set (&env, *e, (size_t) (eq - *e), v) : -1;
          free (v);
        }
    }
  if (r < 0 || (env == NULL && strv_push (&env, "PATH=/usr/local/bin:/usr/bin:/bin") < 0))
    {
      strv_free (env);
      return NULL;
    }
  return env;
}

static cJSON *
builtin_tool (const char *name, const cJSON *args)
{
  cJSON *r;

  if (strcmp (name, "host.ping") == 0)
    {
      r = cJSON_CreateObject ();
      cJSON_AddBoolToObject (r, "pong", 1);
      cJSON_AddItemToObject (r, "args", cJSON_Duplicate (args, 1));
      return r;
    }
  if (strcmp (name, "host.echo") == 0)
    return cJSON_Duplicate (args, 1);
  if (strcmp (name, "host.time") == 0)
    {
      r = cJSON_CreateObject ();
      cJSON_AddNumberToObject (r, "unix", (double) time (NULL));
      return r;
    }
  return NULL;
}

/* Run ARGV with INPUT on stdin; collect stdout (bounded) within TIMEOUT.  */
static int
run_command (char *const *argv, char *const *envp, const char *input, double timeout, char **out,
             int *status, char *why, size_t whysize)
{
  int in[2], outp[2];
  posix_spawn_file_actions_t fa;
  pid_t pid;
  size_t len = 0, cap = 4096, ilen = strlen (input), ioff = 0;
  char *buf = malloc (cap);
  struct timespec t0, t1;

  if (buf == NULL || pipe2 (in, O_CLOEXEC) < 0 || pipe2 (outp, O_CLOEXEC) < 0)
    {
      free (buf);
      snprintf (why, whysize, "pipe: %s", strerror (errno));
      return -1;
    }
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_adddup2 (&fa, in[0], 0);
  posix_spawn_file_actions_adddup2 (&fa, outp[1], 1);
  if (posix_spawn (&pid, argv[0], &fa, NULL, argv, envp) != 0)
    {
      snprintf (why, whysize, "cannot start %s: %s", argv[0], strerror (errno));
      posix_spawn_file_actions_destroy (&fa);
      close (in[0]), close (in[1]), close (outp[0]), close (outp[1]);
      free (buf);
      return -1;
    }
  posix_spawn_file_actions_destroy (&fa);
  close (in[0]);
  close (outp[1]);
  fcntl (in[1], F_SETFL, O_NONBLOCK);
  clock_gettime (CLOCK_MONOTONIC, &t0);
  for (;;)
    {
      struct pollfd p[2] = { { outp[0], POLLIN, 0 }, { ioff < ilen ? in[1] : -1, POLLOUT, 0 } };
      double elapsed;
      int left;
      clock_gettime (CLOCK_MONOTONIC, &t1);
      elapsed = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
      left = (int) ((timeout - elapsed) * 1000);
      if (left <= 0 || len > MAX_TOOL_OUTPUT)
        {
          kill (pid, SIGKILL);
          snprintf (why, whysize, left <= 0 ? "timed out after %.3g s" : "output larger than 1 MiB",
                    timeout);
          break;
        }
      if (poll (p, 2, left) < 0 && errno != EINTR)
        break;
      if (p[1].revents & (POLLOUT | POLLERR))
        {
          ssize_t w = write (in[1], input + ioff, ilen - ioff);
          if (w > 0)
            ioff += (size_t) w;
          if (w < 0 || ioff == ilen)
            {
              close (in[1]);
              in[1] = -1;
              ioff = ilen;
            }
        }
      else if (ioff == ilen && in[1] >= 0)
        {
          close (in[1]);
          in[1] = -1;
        }
      if (p[0].revents & (POLLIN | POLLHUP))
        {
          ssize_t n;
          if (len + 4096 > cap)
            {
              char *nb = realloc (buf, cap * 2);
              if (nb == NULL)
                break;
              buf = nb;
              cap *= 2;
            }
          n = read (outp[0], buf + len, cap - len - 1);
          if (n <= 0)
            {
              why[0] = '\0';
              break;
            }
          len += (size_t) n;
        }
    }
  if (in[1] >= 0)
    close (in[1]);
  close (outp[0]);
  while (waitpid (pid, status, 0) < 0 && errno == EINTR)
    ;
  buf[len] = '\0';
  *out = buf;
  return why[0] ? -1 : 0;
}

static void
call_command (struct broker_state *b, const cJSON *id, const struct policy_tool *t,
              const cJSON *args)
{
  char *input = cJSON_PrintUnformatted (args);
  char *output = NULL, why[256] = "";
  char **envp = tool_environment (t);
  int status = 0;
  cJSON *parsed, *data;

  if (envp == NULL)
    {
      broker_reply_error (b, id, "ToolError", "host tool '%s': out of memory", t->name);
      goto out;
    }
  if (run_command (t->command, envp, input ? input : "{}", t->timeout > 0 ? t->timeout : 30,
                   &output, &status, why, sizeof why)
      < 0)
    {
      broker_reply_error (b, id, "ToolError", "host tool '%s': %s", t->name, why);
      goto out;
    }
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      broker_reply_error (b, id, "ToolError", "host tool '%s' failed (status %d): %.300s", t->name,
                          WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status),
                          output);
      goto out;
    }
  parsed = cJSON_Parse (output);
  data = cJSON_CreateObject ();
  cJSON_AddItemToObject (data, "result", parsed ? parsed : cJSON_CreateString (output));
  broker_reply (b, id, "done", data);
out:
  strv_free (envp);
  cJSON_free (input);
  free (output);
}

/* ": it is allowed only in stage(s) a, b" for the stages of policy P that
 * list TOOL, in BUF; returns how many there are.  */
static int
stages_listing (const struct policy *p, const char *tool, char *buf, size_t size)
{
  size_t len;
  int n = 0;

  buf[0] = '\0';
  for (size_t i = 0; i < p->n_stages; i++)
    if (policy_stage_allows (&p->stages[i], tool))
      {
        len = strlen (buf);
        snprintf (buf + len, size - len, "%s'%s'", n++ ? ", " : "", p->stages[i].name);
      }
  if (n > 0)
    {
      char list[256];
      snprintf (list, sizeof list, "%s", buf);
      snprintf (buf, size, ": it is allowed only in stage%s %s", n > 1 ? "s" : "", list);
    }
  return n;
}

const struct policy_tool *
broker_tool_allowed (struct broker_state *b, const cJSON *id, const char *name, const cJSON *args,
                     const char *what)
{
  const struct policy *p = b->o->policy;
  const struct policy_tool *t;
  char question[512];
  bool mcp = strncmp (name, "mcp.", 4) == 0;

  t = policy_find_tool (p, name);
  if (t == NULL)
    {
      trace_note (b->o->trace, "log", "WARNING", "denied %s '%.100s' (not in the policy)", what,
                  name);
      if (mcp)
        {
          const char *dot = strchr (name + 4, '.');
          broker_reply_error (b, id, "ToolNotAllowed",
                              "%s '%.100s' is not allowed by the policy (list it, or "
                              "mcp.%.*s.* for all of its server's tools, under policy.tools in "
                              "the config)",
                              what, name, dot ? (int) (dot - name - 4) : 0, name + 4);
        }
      else
        broker_reply_error (b, id, "ToolNotAllowed",
                            "%s '%.100s' is not allowed by the policy (list it under "
                            "policy.tools in the config)",
                            what, name);
      return NULL;
    }
  if (p->n_stages > 0)
    {
      const struct policy_stage *s = b->stage[0] ? policy_find_stage (p, b->stage) : NULL;
      char where[256];
      if (s && !policy_stage_allows (s, name))
        {
          stages_listing (p, name, where, sizeof where);
          broker_reply_error (b, id, "ToolNotAllowed", "%s '%s' is not allowed in stage '%s'%s",
                              what, name, b->stage, where);
          return NULL;
        }
      /* Before any Stage.set, a tool that a stage lists is not yet allowed
       * (it is meant for that stage only); tools no stage lists are.  */
      if (s == NULL && stages_listing (p, name, where, sizeof where))
        {
          trace_note (b->o->trace, "log", "WARNING", "denied %s '%s' (no stage is set)", what,
                      name);
          broker_reply_error (b, id, "ToolNotAllowed",
                              "%s '%s' is not allowed before a stage is set%s (Stage.set)", what,
                              name, where);
          return NULL;
        }
    }
  if (t->approval)
    {
      char *a = cJSON_PrintUnformatted (args);
      int ok;
      snprintf (question, sizeof question, "Allow %s %s with %.300s?", what, name, a ? a : "{}");
      cJSON_free (a);
      ok = broker_approve (b, question);
      trace_note (b->o->trace, "control_response", NULL, "approval for %s: %s", name,
                  ok == 1   ? "granted"
                  : ok == 0 ? "denied"
                            : "nobody to ask: denied");
      if (ok != 1)
        {
          broker_reply_error (
              b, id, "ApprovalRequired", "%s '%s' needs a human's approval (%s)", what, name,
              ok == 0 ? "denied" : "no one to ask: no terminal, no standing answer");
          return NULL;
        }
    }
  return t;
}

void
broker_tool_call (struct broker_state *b, const cJSON *id, const cJSON *params)
{
  const cJSON *name = cJSON_GetObjectItemCaseSensitive (params, "name");
  const cJSON *args = cJSON_GetObjectItemCaseSensitive (params, "args");
  const struct policy_tool *t;
  static const cJSON empty = { .type = cJSON_Object };
  cJSON *result, *data;

  if (!cJSON_IsString (name))
    return broker_violation (b, id, "tool.call needs params.name");
  if (args == NULL)
    args = &empty;
  if (!cJSON_IsObject (args))
    return broker_violation (b, id, "tool.call params.args must be an object");
  if (strncmp (name->valuestring, "host.", 5) != 0)
    return (void) broker_reply_error (b, id, "ToolNotAllowed",
                                      "'%.100s' is not a host tool (host.<name>; MCP tools are "
                                      "called with mcp.call_tool)",
                                      name->valuestring);
  t = broker_tool_allowed (b, id, name->valuestring, args, "host tool");
  if (t == NULL)
    return;
  if (t->command)
    return call_command (b, id, t, args);
  result = builtin_tool (t->name, args);
  if (result == NULL)
    return (void) broker_reply_error (b, id, "ToolNotAllowed",
                                      "host tool '%s' has no command and is not a built-in "
                                      "(host.ping, host.echo, host.time)",
                                      t->name);
  data = cJSON_CreateObject ();
  cJSON_AddItemToObject (data, "result", result);
  broker_reply (b, id, "done", data);
}
