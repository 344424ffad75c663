#define _GNU_SOURCE
#include "broker/trace.h"

#include <cJSON.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *
str (const cJSON *obj, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, key);
  return cJSON_IsString (v) ? v->valuestring : NULL;
}

static void
print_json_field (FILE *f, const cJSON *obj, const char *key, const char *prefix)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, key);
  char *s;

  if (v == NULL || cJSON_IsNull (v))
    return;
  s = cJSON_PrintUnformatted (v);
  if (s)
    {
      fprintf (f, "%s%.2000s", prefix, s);
      cJSON_free (s);
    }
}

static void
iso_time (char *buf, size_t size)
{
  struct timespec ts;
  struct tm tm;

  clock_gettime (CLOCK_REALTIME, &ts);
  gmtime_r (&ts.tv_sec, &tm);
  snprintf (buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
            tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

int
trace_level_number (const char *name)
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

static void
human_line (struct trace *t, const cJSON *ev)
{
  FILE *f = t->human;
  const char *type = str (ev, "event_type");
  const char *level = str (ev, "level");

  if (type == NULL)
    return;
  /* One per file the run touches: for --verbose and the JSON sinks.  */
  if (strcmp (type, "file_access") == 0 && !t->verbose)
    return;
  if (strcmp (type, "agent_stream_chunk") == 0)
    {
      fprintf (f, "%s", str (ev, "chunk_text") ? str (ev, "chunk_text") : "");
      fflush (f);
      t->mid_line = true;
      return;
    }
  if (t->mid_line)
    {
      fputc ('\n', f);
      t->mid_line = false;
    }
  if (strcmp (type, "log") == 0)
    {
      int min = t->log_level > 0 ? t->log_level : t->verbose ? 10 : 20;
      int n = trace_level_number (level ? level : "INFO");
      if (n < 0 ? 20 < min : n < min)
        return;
      /* Readable lines are for people: a huge message is cut (the JSON
       * Lines sinks keep it whole).  */
      const char *msg = str (ev, "message") ? str (ev, "message") : "";
      fprintf (f, "%-7s %.4000s%s", level ? level : "INFO", msg, strlen (msg) > 4000 ? "…" : "");
      print_json_field (f, ev, "context", " ");
    }
  else if (strcmp (type, "tool_call") == 0)
    {
      fprintf (f, "tool    %s", str (ev, "tool_name") ? str (ev, "tool_name") : "?");
      print_json_field (f, ev, "tool_args", " ");
      print_json_field (f, ev, "tool_result", " -> ");
    }
  else if (strcmp (type, "agent_turn") == 0)
    {
      const char *stage = str (ev, "stage");
      fprintf (f, "agent   %s turn %s", str (ev, "agent_name") ? str (ev, "agent_name") : "?",
               stage ? stage : "");
      if (stage && strcmp (stage, "started") == 0)
        {
          fprintf (f, "\n");
          fflush (f);
          return;
        }
    }
  else if (strcmp (type, "egress") == 0)
    {
      const cJSON *port = cJSON_GetObjectItemCaseSensitive (ev, "port");
      const char *host = str (ev, "host") ? str (ev, "host") : "?";
      fprintf (f, "egress  %s %s%s%s:%d (%s, %s)%s%s",
               str (ev, "decision") ? str (ev, "decision") : "?", strchr (host, ':') ? "[" : "",
               host, strchr (host, ':') ? "]" : "", cJSON_IsNumber (port) ? port->valueint : 0,
               str (ev, "protocol") ? str (ev, "protocol") : "?",
               str (ev, "cage") ? str (ev, "cage") : "?", str (ev, "reason") ? ": " : "",
               str (ev, "reason") ? str (ev, "reason") : "");
    }
  else if (strcmp (type, "execution_summary") == 0)
    {
      const cJSON *code = cJSON_GetObjectItemCaseSensitive (ev, "exit_code");
      const cJSON *ms = cJSON_GetObjectItemCaseSensitive (ev, "duration_ms");
      const cJSON *it = cJSON_GetObjectItemCaseSensitive (ev, "iterations");
      const cJSON *tools = cJSON_GetObjectItemCaseSensitive (ev, "tools_used");
      const cJSON *tt = cJSON_GetObjectItemCaseSensitive (
          cJSON_GetObjectItemCaseSensitive (ev, "usage"), "total_tokens");
      fprintf (f, "summary %s (exit %d) in %.0f ms", str (ev, "status") ? str (ev, "status") : "?",
               cJSON_IsNumber (code) ? code->valueint : -1,
               cJSON_IsNumber (ms) ? ms->valuedouble : 0);
      if (cJSON_IsNumber (it) && it->valuedouble > 0)
        fprintf (f, ", %.0f iteration%s", it->valuedouble, it->valuedouble == 1 ? "" : "s");
      if (cJSON_GetArraySize (tools) > 0)
        print_json_field (f, ev, "tools_used", ", tools ");
      if (cJSON_IsNumber (tt))
        fprintf (f, ", %.0f tokens", tt->valuedouble);
    }
  else
    {
      const char *msg = str (ev, "message");
      fprintf (f, "%-7s", type);
      if (msg)
        fprintf (f, " %s", msg);
      else
        {
          cJSON *copy = cJSON_Duplicate (ev, 1);
          char *s;
          cJSON_DeleteItemFromObjectCaseSensitive (copy, "event_type");
          cJSON_DeleteItemFromObjectCaseSensitive (copy, "timestamp");
          s = cJSON_PrintUnformatted (copy);
          if (s)
            fprintf (f, " %.2000s", s);
          cJSON_free (s);
          cJSON_Delete (copy);
        }
    }
  fputc ('\n', f);
  fflush (f);
}

void
trace_event (struct trace *t, cJSON *event)
{
  if (t == NULL || !cJSON_IsObject (event))
    return;
  if (t->jsonl || t->file || t->store)
    {
      char *s;
      if (!cJSON_HasObjectItem (event, "timestamp"))
        {
          char ts[40];
          iso_time (ts, sizeof ts);
          cJSON_AddStringToObject (event, "timestamp", ts);
        }
      s = cJSON_PrintUnformatted (event);
      for (int i = 0; s && i < 3; i++)
        {
          FILE *f = i == 0 ? t->jsonl : i == 1 ? t->file : t->store;
          if (f)
            {
              fprintf (f, "%s\n", s);
              fflush (f);
            }
        }
      cJSON_free (s);
    }
  if (t->human)
    human_line (t, event);
}

void
trace_note (struct trace *t, const char *event_type, const char *level, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  cJSON *ev;

  if (t == NULL)
    return;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  ev = cJSON_CreateObject ();
  cJSON_AddStringToObject (ev, "event_type", event_type);
  if (level)
    cJSON_AddStringToObject (ev, "level", level);
  cJSON_AddStringToObject (ev, "message", msg);
  trace_event (t, ev);
  cJSON_Delete (ev);
}
