/* The trace stream: every event of a run, live.  Readable lines for people
 * (stderr), JSON Lines for machines (--json on stdout, --trace FILE).  The
 * same events come out with and without the sandbox.  */
#ifndef TR_TRACE_H
#define TR_TRACE_H

#include <stdbool.h>
#include <stdio.h>

struct cJSON;

struct trace
{
  FILE *human; /* readable lines, or NULL */
  FILE *jsonl; /* one JSON object per line (--json: stdout), or NULL */
  FILE *file;  /* the same, to --trace FILE, or NULL */
  FILE *store; /* the same, to the trace file storage keeps (run --storage file), or NULL */
  bool color;
  bool verbose;  /* show DEBUG logs */
  int log_level; /* readable lines show logs of this level and up (10 DEBUG .. 50 CRITICAL);
                    0: INFO, or DEBUG with verbose */
  bool mid_line; /* streamed model text is on the current line */
};

/* The number of a level name (debug, info, warning/warn, error, critical,
 * any case): 10..50, or -1.  */
int trace_level_number (const char *name);

/* Emit EVENT (an object with event_type).  Adds a timestamp if missing.  */
void trace_event (struct trace *t, struct cJSON *event);
/* Convenience: a broker-side event with a message.  */
void trace_note (struct trace *t, const char *event_type, const char *level, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

#endif
