/* The presentation layer: every byte the CLI writes to a terminal goes
 * through here (cli/present.c: escaping, colours; cli/present_trace.c:
 * the live trace, the approval prompt; cli/present_result.c: the final
 * result).  The broker and the sandbox only emit events and fill error
 * structs; this module words them for people.
 *
 * Everything the cage sends (log messages, tool names and arguments,
 * notifications, streamed model text, error messages, approval questions)
 * is data, never terminal control: it is shown only after escaping, which
 * replaces every C0/C1 control (ESC, CSI, OSC, \r, BEL...), DEL, invalid
 * UTF-8, and the invisible formatting characters that reorder or hide text
 * (bidi overrides and isolates, zero-width characters, tag characters).
 * A newline in cage text starts an indented line, so cage text can never
 * stand at column 0 where the CLI's own verdict lines are.  */
#ifndef TR_CLI_PRESENT_H
#define TR_CLI_PRESENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct cJSON;
struct trace;

enum present_color
{
  PRESENT_COLOR_AUTO, /* on a terminal, unless NO_COLOR is set or TERM=dumb */
  PRESENT_COLOR_ALWAYS,
  PRESENT_COLOR_NEVER,
};

enum present_style
{
  PS_RESET,
  PS_DIM,
  PS_BOLD,
  PS_RED,
  PS_GREEN,
  PS_YELLOW,
  PS_BLUE,
  PS_MAGENTA,
  PS_CYAN,
  PS_BOLD_RED,
  PS_BOLD_GREEN,
  PS_BOLD_YELLOW,
};

/* One terminal (or file) the CLI writes people's text to.  */
struct present
{
  FILE *f;
  bool tty;    /* F is a terminal: spinner and elapsed time */
  bool color;  /* SGR colours */
  bool always; /* --color=always: on other streams than F too */
  bool verbose;
  int log_level;         /* logs of this level and up (10 DEBUG .. 50 CRITICAL); 0: INFO (DEBUG with
                            verbose) */
  bool mid_line;         /* streamed model text is on the current line */
  char stream_agent[64]; /* whose text is streaming */
  struct timespec asked_at;     /* when a question went to the terminal, or 0 */
  struct present_spinner *spin; /* while waiting on a model (a TTY only), or NULL */
};

/* "auto", "always" or "never": 0, or -1 for anything else.  */
int present_color_parse (const char *s, enum present_color *c);

/* Set up P for F.  */
void present_init (struct present *p, FILE *f, enum present_color mode);
/* Stop the spinner, end a streamed line.  */
void present_finish (struct present *p);

/* The SGR sequence of STYLE, or "" without colour.  */
const char *present_sgr (const struct present *p, enum present_style s);

/* ---- escaping of untrusted text ---- */

enum
{
  PRESENT_ONE_LINE = 1, /* newlines too become visible ("\n" as ⏎) */
};

/* Write at most MAX bytes of S (escaped; "…" when cut) to F.  A newline
 * becomes a newline and INDENT (unless PRESENT_ONE_LINE).  */
void present_put (FILE *f, const char *s, size_t max, const char *indent, unsigned flags);
/* The same into BUF (always terminated).  */
void present_escape (const char *s, char *buf, size_t size, unsigned flags);

/* The JSON text of X, object keys sorted, every string escaped for a terminal (JSON
 * escapes \uXXXX for the characters present_put replaces).  */
char *present_json_compact (const struct cJSON *x);

/* In place: every control other than newline and tab, every invisible
 * formatting character and every invalid UTF-8 byte becomes '?' (the
 * text can only shrink).  */
void untrusted_clean (char *text);
/* The same for every string (and key) in a JSON tree.  */
void untrusted_clean_tree (struct cJSON *x);
/* A cleaned copy (malloc'd), or NULL.  */
char *untrusted_clean_dup (const char *text);

/* Reading what the VM sends back: O.KEY when it is a string / a number,
 * else NULL / DEF.  */
const char *ujson_str (const struct cJSON *o, const char *key);
double ujson_num (const struct cJSON *o, const char *key, double def);

/* ---- errors (cli/present_error.c) ---- */

struct tr_error;

/* The command the user ran ("run", "sandbox", "test"...): hints name its
 * flags.  */
void present_set_command (const char *cmd);
/* The fix for HINT (enum tr_hint) in the current command's words, or NULL.  */
const char *present_hint (int hint);
/* "tactus-run: WHAT MESSAGE; FIX" on F, escaped (WHAT may be NULL).  */
void present_error (FILE *f, const char *what, const struct tr_error *err);

/* ---- the live trace (cli/present_trace.c) ---- */

/* Show T's events on P (readable lines) and ask T's questions on the
 * controlling terminal through P.  SHOW false: questions only (--json).  */
void present_trace_attach (struct trace *t, struct present *p, bool show);
/* Show one event.  */
void present_event (struct present *p, const struct cJSON *event);
/* End a streamed line, if one is open.  */
void present_end_line (struct present *p);
/* The number of a level name (debug, info, warning/warn, error,
 * critical, any case): 10..50, or -1.  */
int present_level_number (const char *name);

/* ---- the final result (cli/present_result.c) ---- */

/* X as indented JSON: object keys sorted (the order of ORDER's names
 * first, when given), integers without a fraction, other numbers with 15
 * significant digits (%.15g), strings escaped.  */
void present_json_pretty (FILE *f, const struct cJSON *x, const struct cJSON *order, int indent);
/* A number as present_json_pretty writes it, in BUF.  */
void present_number (double v, char *buf, size_t size);

#endif
