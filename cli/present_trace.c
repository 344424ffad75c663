/* The live trace for people (present.h): one readable line per event,
 * coloured by kind and level on a terminal; the streamed model text as it
 * arrives; the questions for the human at the terminal.
 *
 * Every string of an event may come from the cage (the VM emits events of
 * its own; the model's text, tool names and results, MCP servers' words):
 * each goes through present_put, never straight to the terminal.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "broker/trace.h"
#include "cli/present.h"
#include "cli/present_spinner.h"

/* Cage text continues on indented lines, below the tag column.  */
#define INDENT "        "
/* A readable line shows this much of one field (the JSON sinks keep it
 * whole).  */
#define FIELD_MAX 4000
#define JSON_MAX 2000

static const char *
str (const cJSON *obj, const char *key)
{
  return ujson_str (obj, key);
}

static double
num (const cJSON *obj, const char *key, double def)
{
  return ujson_num (obj, key, def);
}

int
present_level_number (const char *name)
{
  static const struct
  {
    const char *name;
    int n;
  } levels[] = { { "debug", 10 }, { "info", 20 },  { "warning", 30 },
                 { "warn", 30 },  { "error", 40 }, { "critical", 50 } };

  for (size_t i = 0; name && i < sizeof levels / sizeof levels[0]; i++)
    if (strcasecmp (name, levels[i].name) == 0)
      return levels[i].n;
  return -1;
}

static enum present_style
level_style (int n)
{
  return n >= 50   ? PS_BOLD_RED
         : n >= 40 ? PS_RED
         : n >= 30 ? PS_YELLOW
         : n <= 10 ? PS_DIM
                   : PS_RESET;
}

/* The tag column: TAG in STYLE, padded to 8.  */
static void
tag (struct present *p, enum present_style style, const char *tag)
{
  fprintf (p->f, "%s%-7s%s ", present_sgr (p, style), tag, present_sgr (p, PS_RESET));
}

static void
text (struct present *p, const char *s)
{
  present_put (p->f, s ? s : "", FIELD_MAX, INDENT, 0);
}

static void
word (struct present *p, const char *s)
{
  present_put (p->f, s ? s : "?", 200, NULL, PRESENT_ONE_LINE);
}

static void
dim (struct present *p, const char *s)
{
  fputs (present_sgr (p, PS_DIM), p->f);
  present_put (p->f, s, FIELD_MAX, INDENT, PRESENT_ONE_LINE);
  fputs (present_sgr (p, PS_RESET), p->f);
}

/* A JSON field (escaped), PREFIX first; nothing when absent or null.  */
static void
json_field (struct present *p, const cJSON *ev, const char *key, const char *prefix)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (ev, key);
  char *s;

  if (v == NULL || cJSON_IsNull (v))
    return;
  s = present_json_compact (v);
  if (s)
    {
      fputs (prefix, p->f);
      present_put (p->f, s, JSON_MAX, NULL, PRESENT_ONE_LINE);
      free (s);
    }
}

/* "4.5 s", "120 ms".  */
static void
duration (char *buf, size_t size, double ms)
{
  if (ms < 1000)
    snprintf (buf, size, "%.0f ms", ms);
  else
    snprintf (buf, size, "%.1f s", ms / 1000);
}

static void
log_line (struct present *p, const cJSON *ev)
{
  const char *level = str (ev, "level");
  int min = p->log_level > 0 ? p->log_level : p->verbose ? 10 : 20;
  int n = present_level_number (level ? level : "INFO");
  char lv[16];

  if (n < 0 ? 20 < min : n < min)
    return;
  present_escape (level ? level : "INFO", lv, sizeof lv, PRESENT_ONE_LINE);
  tag (p, level_style (n < 0 ? 20 : n), lv);
  if (n >= 30)
    fputs (present_sgr (p, level_style (n)), p->f);
  text (p, str (ev, "message"));
  if (n >= 30)
    fputs (present_sgr (p, PS_RESET), p->f);
  json_field (p, ev, "context", " ");
}

static void
cost_line (struct present *p, const cJSON *ev)
{
  const cJSON *c = cJSON_GetObjectItemCaseSensitive (ev, "total_cost");
  char d[32], money[48];

  tag (p, PS_MAGENTA, "cost");
  word (p, str (ev, "agent_name"));
  if (str (ev, "model"))
    {
      fputs (" (", p->f);
      word (p, str (ev, "model"));
      fputs (")", p->f);
    }
  duration (d, sizeof d, num (ev, "latency_ms", 0));
  if (cJSON_IsNumber (c) && c->valuedouble > 0 && c->valuedouble < 0.0001)
    {
      /* Two significant digits of a tiny cost: "$0.0000045".  */
      int decimals = 4;
      for (double x = c->valuedouble * 1e4; x < 10 && decimals < 12; x *= 10)
        decimals++;
      snprintf (money, sizeof money, "$%.*f", decimals, c->valuedouble);
    }
  else if (cJSON_IsNumber (c))
    snprintf (money, sizeof money, "$%.4f", c->valuedouble);
  else
    snprintf (money, sizeof money, "cost unknown");
  fprintf (p->f, ": tokens %.0f+%.0f, %s, %s", num (ev, "prompt_tokens", 0),
           num (ev, "completion_tokens", 0), money, d);
}

static void
tool_line (struct present *p, const cJSON *ev)
{
  tag (p, PS_CYAN, "tool");
  fputs (present_sgr (p, PS_BOLD), p->f);
  word (p, str (ev, "tool_name"));
  fputs (present_sgr (p, PS_RESET), p->f);
  json_field (p, ev, "tool_args", " ");
  json_field (p, ev, "tool_result", " -> ");
}

static void
agent_line (struct present *p, const cJSON *ev)
{
  const char *stage = str (ev, "stage");
  const char *status = str (ev, "status");
  char d[32];

  tag (p, PS_BLUE, "agent");
  fputs (present_sgr (p, PS_BOLD), p->f);
  word (p, str (ev, "agent_name"));
  fputs (present_sgr (p, PS_RESET), p->f);
  if (stage && strcmp (stage, "started") == 0)
    fputs (" is thinking", p->f);
  else if (stage && strcmp (stage, "completed") == 0)
    {
      duration (d, sizeof d, num (ev, "duration_ms", 0));
      if (status == NULL || strcmp (status, "ok") == 0)
        fprintf (p->f, " answered in %s", d);
      else
        {
          fprintf (p->f, " stopped (%s", present_sgr (p, PS_RED));
          word (p, status);
          fprintf (p->f, "%s) after %s", present_sgr (p, PS_RESET), d);
          if (str (ev, "error"))
            {
              fputs (": ", p->f);
              text (p, str (ev, "error"));
            }
        }
    }
  else
    {
      fputs (" turn ", p->f);
      word (p, stage);
    }
}

/* An answer as a person reads it: a string as is, yes/no, else JSON.  */
static void
value (struct present *p, const cJSON *v)
{
  if (cJSON_IsString (v))
    {
      fputc ('"', p->f);
      present_put (p->f, v->valuestring, FIELD_MAX, NULL, PRESENT_ONE_LINE);
      fputc ('"', p->f);
    }
  else if (cJSON_IsBool (v))
    fputs (cJSON_IsTrue (v) ? "yes" : "no", p->f);
  else
    {
      char *s = present_json_compact (v);
      present_put (p->f, s ? s : "null", JSON_MAX, NULL, PRESENT_ONE_LINE);
      free (s);
    }
}

static void
human_line (struct present *p, const char *type, const cJSON *ev)
{
  if (strcmp (type, "control_request") == 0)
    {
      const cJSON *req = cJSON_GetObjectItemCaseSensitive (ev, "request");
      tag (p, PS_BOLD_YELLOW, "human");
      fputs ("asks for ", p->f);
      word (p, str (req, "request_type") ? str (req, "request_type") : "an answer");
      fputs (": ", p->f);
      text (p, str (req, "message") ? str (req, "message") : "(no message)");
    }
  else if (strcmp (type, "control_response") == 0)
    {
      tag (p, PS_YELLOW, "human");
      if (str (ev, "message") && !cJSON_HasObjectItem (ev, "value"))
        {
          text (p, str (ev, "message")); /* the broker's own (a tool's approval) */
          return;
        }
      fputs ("answered the ", p->f);
      word (p, str (ev, "request_type") ? str (ev, "request_type") : "request");
      /* How long the human took, when it was asked here.  */
      if (p->asked_at.tv_sec || p->asked_at.tv_nsec)
        {
          struct timespec now;
          char d[32];
          clock_gettime (CLOCK_MONOTONIC, &now);
          duration (d, sizeof d,
                    (double) (now.tv_sec - p->asked_at.tv_sec) * 1e3
                        + (double) (now.tv_nsec - p->asked_at.tv_nsec) / 1e6);
          fprintf (p->f, " after %s", d);
          p->asked_at = (struct timespec){ 0 };
        }
      if (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (ev, "timed_out")))
        fputs (": no answer in time, the default applies", p->f);
      else
        {
          fputs (": ", p->f);
          value (p, cJSON_GetObjectItemCaseSensitive (ev, "value"));
        }
    }
  else
    {
      /* human_notification, system_alert: a message at a level.  */
      const char *lv = str (ev, "level");
      int n = present_level_number (lv ? lv : "info");
      bool alert = strcmp (type, "system_alert") == 0;
      tag (p, level_style (n < 0 ? 20 : n), alert ? "alert" : "notify");
      if (lv && n != 20)
        {
          fputc ('[', p->f);
          word (p, lv);
          fputs ("] ", p->f);
        }
      text (p, str (ev, "message"));
      if (alert && str (ev, "source"))
        {
          fputs (" (from ", p->f);
          word (p, str (ev, "source"));
          fputs (")", p->f);
        }
      json_field (p, ev, "context", " ");
    }
}

static void
checkpoint_line (struct present *p, const cJSON *ev)
{
  char d[32];

  tag (p, PS_GREEN, "saved");
  duration (d, sizeof d, num (ev, "duration_ms", 0));
  fprintf (p->f, "checkpoint %.0f", num (ev, "checkpoint_position", 0));
  if (str (ev, "checkpoint_type") && strcmp (str (ev, "checkpoint_type"), "explicit") != 0)
    {
      fputs (" (", p->f);
      word (p, str (ev, "checkpoint_type"));
      fputs (")", p->f);
    }
  fprintf (p->f, " after %s", d);
  if (str (ev, "source_location"))
    {
      fputs (" at ", p->f);
      word (p, str (ev, "source_location"));
    }
}

static void
egress_line (struct present *p, const cJSON *ev)
{
  const char *decision = str (ev, "decision");
  const char *host = str (ev, "host") ? str (ev, "host") : "?";
  bool allowed = decision && strcmp (decision, "allowed") == 0;
  bool v6 = strchr (host, ':') != NULL;

  tag (p, allowed ? PS_GREEN : PS_RED, "egress");
  word (p, str (ev, "cage"));
  fprintf (p->f, " %s", allowed ? "may connect to " : "was refused ");
  fputs (v6 ? "[" : "", p->f);
  word (p, host);
  fprintf (p->f, "%s:%.0f over ", v6 ? "]" : "", num (ev, "port", 0));
  word (p, str (ev, "protocol"));
  if (str (ev, "reason"))
    {
      fputs (": ", p->f);
      text (p, str (ev, "reason"));
    }
}

static void
summary_line (struct present *p, const cJSON *ev)
{
  const char *status = str (ev, "status");
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive (ev, "tools_used");
  const cJSON *tt = cJSON_GetObjectItemCaseSensitive (
      cJSON_GetObjectItemCaseSensitive (ev, "usage"), "total_tokens");
  double it = num (ev, "iterations", 0);
  bool ok = status && strcmp (status, "success") == 0;

  char d[32];

  tag (p, ok ? PS_GREEN : PS_RED, "summary");
  word (p, status);
  duration (d, sizeof d, num (ev, "duration_ms", 0));
  fprintf (p->f, " (exit %.0f) in %s", num (ev, "exit_code", -1), d);
  if (it > 0)
    fprintf (p->f, ", %.0f iteration%s", it, it == 1 ? "" : "s");
  if (cJSON_GetArraySize (tools) > 0)
    json_field (p, ev, "tools_used", ", tools ");
  if (cJSON_IsNumber (tt))
    fprintf (p->f, ", %.0f tokens", tt->valuedouble);
}

/* Any other event (the VM may emit any type): its type and a message,
 * else its fields as JSON.  */
static void
other_line (struct present *p, const char *type, const cJSON *ev)
{
  const char *msg = str (ev, "message");
  char t[40];
  bool bad = strstr (type, "violation") != NULL;

  present_escape (type, t, sizeof t, PRESENT_ONE_LINE);
  tag (p, bad ? PS_RED : PS_DIM, t);
  if (msg)
    {
      if (strcmp (type, "mcp") == 0)
        {
          fputs ("server ", p->f);
          word (p, str (ev, "server"));
          fputc (' ', p->f);
          word (p, str (ev, "event"));
          fputs (": ", p->f);
        }
      text (p, msg);
    }
  else
    {
      cJSON *copy = cJSON_Duplicate (ev, 1);
      char *s;
      cJSON_DeleteItemFromObjectCaseSensitive (copy, "event_type");
      cJSON_DeleteItemFromObjectCaseSensitive (copy, "timestamp");
      if (strcmp (type, "mcp") == 0)
        {
          fputs ("server ", p->f);
          word (p, str (ev, "server"));
          fputc (' ', p->f);
          word (p, str (ev, "event"));
        }
      else if ((s = present_json_compact (copy)) != NULL)
        {
          dim (p, s);
          free (s);
        }
      cJSON_Delete (copy);
    }
}

static void
file_line (struct present *p, const cJSON *ev)
{
  tag (p, PS_DIM, "file");
  word (p, str (ev, "operation"));
  fputc (' ', p->f);
  word (p, str (ev, "path"));
  if (str (ev, "to"))
    {
      fputs (" -> ", p->f);
      word (p, str (ev, "to"));
    }
  if (cJSON_IsNumber (cJSON_GetObjectItemCaseSensitive (ev, "bytes")))
    fprintf (p->f, " (%.0f bytes)", num (ev, "bytes", 0));
  if (str (ev, "status") && strcmp (str (ev, "status"), "ok") != 0)
    {
      fputs (": ", p->f);
      word (p, str (ev, "status"));
    }
}

void
present_end_line (struct present *p)
{
  if (p->mid_line)
    {
      fputs (present_sgr (p, PS_RESET), p->f);
      fputc ('\n', p->f);
      p->mid_line = false;
      p->stream_agent[0] = '\0';
    }
}

/* Streamed model text, as it arrives: one "NAME ›" line per agent's
 * stream, continued lines indented.  */
static void
stream_chunk (struct present *p, const cJSON *ev)
{
  const char *agent = str (ev, "agent_name") ? str (ev, "agent_name") : "agent";

  if (p->mid_line && strncmp (p->stream_agent, agent, sizeof p->stream_agent - 1) != 0)
    present_end_line (p);
  if (!p->mid_line)
    {
      tag (p, PS_BLUE, "model");
      word (p, agent);
      fputs (": ", p->f);
      snprintf (p->stream_agent, sizeof p->stream_agent, "%s", agent);
      p->mid_line = true;
    }
  text (p, str (ev, "chunk_text"));
}

/* Event EV of TYPE as its readable line (or a piece of streamed text).  */
static void
render (struct present *p, const char *type, const cJSON *ev)
{
  if (strcmp (type, "agent_stream_chunk") == 0)
    {
      stream_chunk (p, ev);
      return;
    }
  present_end_line (p);
  if (strcmp (type, "log") == 0)
    log_line (p, ev);
  else if (strcmp (type, "tool_call") == 0)
    tool_line (p, ev);
  else if (strcmp (type, "agent_turn") == 0)
    agent_line (p, ev);
  else if (strcmp (type, "cost") == 0)
    cost_line (p, ev);
  else if (strcmp (type, "checkpoint_created") == 0)
    checkpoint_line (p, ev);
  else if (strcmp (type, "control_request") == 0 || strcmp (type, "control_response") == 0
           || strcmp (type, "human_notification") == 0 || strcmp (type, "system_alert") == 0)
    human_line (p, type, ev);
  else if (strcmp (type, "egress") == 0)
    egress_line (p, ev);
  else if (strcmp (type, "file_access") == 0)
    file_line (p, ev);
  else if (strcmp (type, "stage") == 0)
    {
      tag (p, PS_BLUE, "stage");
      fputs ("now in ", p->f);
      word (p, str (ev, "message"));
    }
  else if (strcmp (type, "execution_summary") == 0)
    summary_line (p, ev);
  else
    other_line (p, type, ev);
  fputc ('\n', p->f);
}

void
present_event (struct present *p, const cJSON *ev)
{
  const char *type = str (ev, "event_type");

  if (p == NULL || p->f == NULL || type == NULL)
    return;
  /* One per file the run touches: for --verbose and the JSON sinks.  */
  if (strcmp (type, "file_access") == 0 && !p->verbose)
    return;
  if (strcmp (type, "log") == 0)
    {
      const char *level = str (ev, "level");
      int min = p->log_level > 0 ? p->log_level : p->verbose ? 10 : 20;
      int n = present_level_number (level ? level : "INFO");
      if (n < 0 ? 20 < min : n < min)
        return;
    }
  present_spinner_clear (p);
  /* One write per event: the terminal gets whole lines, and an
   * unbuffered stderr is not written a piece (a system call) at a time.  */
  {
    FILE *real = p->f, *m;
    char *buf = NULL;
    size_t n = 0;
    m = open_memstream (&buf, &n);
    if (m)
      p->f = m;
    render (p, type, ev);
    if (m)
      {
        fclose (m);
        p->f = real;
        if (buf)
          fwrite (buf, 1, n, real);
        free (buf);
      }
    fflush (real);
  }
  /* Waiting on a model from here: the spinner (a TTY only).  */
  if (strcmp (type, "agent_turn") == 0 && str (ev, "stage")
      && strcmp (str (ev, "stage"), "started") == 0)
    present_spinner_start (p, str (ev, "agent_name"));
  else if (strcmp (type, "agent_turn") == 0 || strcmp (type, "execution_summary") == 0)
    present_spinner_stop (p);
  present_spinner_resume (p);
}

/* ---- questions for the human at the terminal ---- */

static int
ask (void *view, const char *kind, const char *question, char *answer, size_t size, int timeout_ms)
{
  struct present *p = view;
  int fd = open ("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  struct pollfd pf = { .fd = fd, .events = POLLIN };
  char *prompt = NULL;
  size_t plen = 0;
  FILE *m;
  ssize_t n;

  if (fd < 0)
    return -1;
  present_spinner_stop (p);
  if (p->f && p->mid_line)
    present_end_line (p);
  if (p->f)
    fflush (p->f);
  m = open_memstream (&prompt, &plen);
  if (m == NULL)
    {
      close (fd);
      return -1;
    }
  /* The question is the cage's text: escaped, and its lines indented, so
   * it cannot hide or replace what the human is answering.  */
  fprintf (m, "%s?%s ", present_sgr (p, PS_BOLD_YELLOW), present_sgr (p, PS_RESET));
  fputs (present_sgr (p, PS_BOLD), m);
  present_put (m, question, FIELD_MAX, "  ", 0);
  if (strcmp (kind, "approval") == 0)
    fprintf (m, " [y/N]%s ", present_sgr (p, PS_RESET));
  else
    fprintf (m, "%s\n> ", present_sgr (p, PS_RESET));
  fclose (m);
  clock_gettime (CLOCK_MONOTONIC, &p->asked_at);
  if (prompt == NULL || write (fd, prompt, plen) < 0 || poll (&pf, 1, timeout_ms) != 1)
    {
      free (prompt);
      close (fd);
      return -1;
    }
  free (prompt);
  n = read (fd, answer, size - 1);
  close (fd);
  if (n <= 0)
    return -1;
  answer[n] = '\0';
  answer[strcspn (answer, "\r\n")] = '\0';
  return 0;
}

static void
show (void *view, const cJSON *ev)
{
  present_event (view, ev);
}

void
present_trace_attach (struct trace *t, struct present *p, bool shown)
{
  t->view = p;
  t->show = shown ? show : NULL;
  t->ask = ask;
}

void
present_finish (struct present *p)
{
  if (p == NULL)
    return;
  present_spinner_free (p);
  if (p->f)
    {
      present_end_line (p);
      fflush (p->f);
    }
}
