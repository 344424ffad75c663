#define _GNU_SOURCE
#include "broker/trace.h"

#include <cJSON.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

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
  if (t->show)
    t->show (t->view, event);
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

int
trace_ask (struct trace *t, const char *kind, const char *question, char *answer, size_t size,
           int timeout_ms)
{
  if (t == NULL || t->ask == NULL || size == 0)
    return -1;
  return t->ask (t->view, kind, question, answer, size, timeout_ms);
}
