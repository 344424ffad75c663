/* The trace stream: every event of a run, live.  JSON Lines for machines
 * (--json on stdout, --trace FILE, the stored trace); the readable view for
 * people is the CLI's (cli/present.h), reached through SHOW.  The same
 * events come out with and without the sandbox.  */
#ifndef TR_TRACE_H
#define TR_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct cJSON;

struct trace
{
  /* The readable view: SHOW gets every event; ASK puts a question of KIND
   * (approval, input, review, escalation) to the human at the terminal,
   * waiting at most TIMEOUT_MS (-1: no limit), and fills ANSWER (one line,
   * no newline): 0, or -1 when no one answered.  NULL: none.  */
  void (*show) (void *view, const struct cJSON *event);
  int (*ask) (void *view, const char *kind, const char *question, char *answer, size_t size,
              int timeout_ms);
  void *view;
  FILE *jsonl; /* one JSON object per line (--json: stdout), or NULL */
  FILE *file;  /* the same, to --trace FILE, or NULL */
  FILE *store; /* the same, to the trace file storage keeps (run --storage file), or NULL */
};

/* Emit EVENT (an object with event_type).  Adds a timestamp if missing.  */
void trace_event (struct trace *t, struct cJSON *event);
/* Convenience: a broker-side event with a message.  */
void trace_note (struct trace *t, const char *event_type, const char *level, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));
/* Ask through T's view (struct trace's ASK): 0 with ANSWER, or -1.  */
int trace_ask (struct trace *t, const char *kind, const char *question, char *answer, size_t size,
               int timeout_ms);

#endif
