/* tactus-run trace list | show RUN | export RUN OUT: the traces runs leave
 * (Tactus's trace-list, trace-show, trace-export).
 *
 * A run with --storage file keeps its trace in STORAGE_DIR/traces/RUN.jsonl
 * (cli/trace_store.c); --trace FILE writes the same JSON Lines anywhere.
 * RUN is a run id of the store (or the start of exactly one), or the path
 * of a JSON Lines trace file.  A trace's events came from the VM: they are
 * data, read with their types checked and printed with control characters
 * replaced.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/trace.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "cli/run_common.h"
#include "cli/trace_store.h"
#include "cli/present.h"
#include "common/cleanup.h"
#include "policy/config.h"

#define MAX_TRACE_BYTES (64u << 20)
#define MAX_RUNS 10000

struct trace_options
{
  const char *sub; /* list, show, export */
  const char *storage_path;
  const char *run;
  const char *out;
  const char *format; /* json (default) or jsonl, for export */
  bool json;
  long position; /* show: the checkpoint at this position; 0: all events */
};

static int
usage_error (const char *msg, const char *arg)
{
  fprintf (stderr, "tactus-run trace: %s%s%s\n(see tactus-run trace --help)\n", msg, arg ? " " : "",
           arg ? arg : "");
  return 1;
}

static int
parse_trace_args (int argc, char **argv, struct trace_options *o)
{
  struct cli_parser p;
  const char *pos[3];
  int n = 0, c;
  uint64_t v;

  if (cli_parse_begin (&p, CLI_C_TRACE, argc, argv) < 0)
    return 1;
  while ((c = cli_next (&p)) > 0)
    switch (c)
      {
      case CLI_O_STORAGE_PATH:
        o->storage_path = optarg;
        break;
      case CLI_O_JSON:
        o->json = true;
        break;
      case CLI_O_FORMAT:
        if (strcmp (optarg, "json") != 0 && strcmp (optarg, "jsonl") != 0)
          return usage_error ("--format: expected json or jsonl, not", optarg);
        o->format = optarg;
        break;
      case CLI_O_POSITION:
        if (parse_uint (optarg, &v) < 0 || v < 1 || v > 1000000)
          return usage_error ("--position: expected a checkpoint position (1 or more), not",
                              optarg);
        o->position = (long) v;
        break;
      default:
        return 1;
      }
  if (c < 0)
    return 1;
  for (int i = optind; i < argc; i++)
    {
      if (n >= 3)
        return usage_error ("unexpected argument", argv[i]);
      pos[n++] = argv[i];
    }
  if (n == 0)
    return usage_error ("expected list, show or export", NULL);
  o->sub = pos[0];
  if (strcmp (o->sub, "list") == 0 && n == 1)
    return 0;
  if (strcmp (o->sub, "show") == 0 && n == 2)
    {
      o->run = pos[1];
      return 0;
    }
  if (strcmp (o->sub, "export") == 0 && n == 3)
    {
      o->run = pos[1];
      o->out = pos[2];
      return 0;
    }
  if (strcmp (o->sub, "list") != 0 && strcmp (o->sub, "show") != 0
      && strcmp (o->sub, "export") != 0)
    return usage_error ("unknown subcommand (list, show, export):", o->sub);
  return usage_error ("wrong number of arguments for", o->sub);
}

/* ---- reading traces ---- */

/* The events of the trace at FD (JSON Lines): an array; lines that are
 * not JSON objects are counted in *BAD.  */
static cJSON *
read_events (int fd, int *bad, struct tr_error *err)
{
  struct stat st;
  char *text, *line, *save = NULL;
  ssize_t n;
  cJSON *list;

  *bad = 0;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    return (void) tr_fail (err, 0, "not a regular file"), NULL;
  if (st.st_size > MAX_TRACE_BYTES)
    return (void) tr_fail (err, 0, "larger than %u MiB", MAX_TRACE_BYTES >> 20), NULL;
  text = malloc ((size_t) st.st_size + 1);
  if (text == NULL)
    return (void) tr_fail (err, ENOMEM, "read"), NULL;
  n = read (fd, text, (size_t) st.st_size);
  if (n < 0)
    {
      free (text);
      return (void) tr_fail (err, errno, "read"), NULL;
    }
  text[n] = '\0';
  list = cJSON_CreateArray ();
  for (line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      cJSON *ev = cJSON_Parse (line);
      if (cJSON_IsObject (ev) && ujson_str (ev, "event_type"))
        cJSON_AddItemToArray (list, ev);
      else
        {
          cJSON_Delete (ev);
          (*bad)++;
        }
    }
  free (text);
  return list;
}

static bool
is_run_file (const char *name)
{
  size_t n = strlen (name);
  return n > 6 && strcmp (name + n - 6, ".jsonl") == 0 && name[0] != '.';
}

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The run ids of the store, sorted; *N of them.  */
static char **
list_runs (int dir, size_t *n)
{
  cleanup_close int d2 = fcntl (dir, F_DUPFD_CLOEXEC, 0);
  DIR *d = d2 >= 0 ? fdopendir (d2) : NULL;
  struct dirent *de;
  char **names = NULL;

  *n = 0;
  if (d == NULL)
    return NULL;
  d2 = -1;
  while ((de = readdir (d)) != NULL && *n < MAX_RUNS)
    {
      char **grown;
      if (!is_run_file (de->d_name))
        continue;
      grown = realloc (names, (*n + 1) * sizeof *names);
      if (grown == NULL)
        break;
      names = grown;
      names[*n] = strndup (de->d_name, strlen (de->d_name) - 6);
      if (names[*n])
        (*n)++;
    }
  closedir (d);
  if (*n > 1)
    qsort (names, *n, sizeof *names, cmp_names);
  return names;
}

static void
free_runs (char **names, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free (names[i]);
  free (names);
}

/* Open the trace RUN names: a path (it has a '/' or ends in .jsonl and
 * exists), else a run id of the store or the start of exactly one.  */
static int
open_run (const struct trace_options *o, const char *storage_dir, char *id, size_t size,
          struct tr_error *err)
{
  struct stat st;
  cleanup_close int dir = -1;
  char file[NAME_MAX + 1];
  char **names;
  size_t n, hits = 0;
  const char *hit = NULL;
  int fd;

  if ((strchr (o->run, '/') || is_run_file (o->run)) && stat (o->run, &st) == 0)
    {
      snprintf (id, size, "%s", o->run);
      fd = open (o->run, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      return fd < 0 ? tr_fail (err, errno, "%s", o->run) : fd;
    }
  dir = trace_store_dir (storage_dir, false, err);
  if (dir < 0)
    return tr_wrap (err, "no trace named %s (and no trace store)", o->run);
  names = list_runs (dir, &n);
  for (size_t i = 0; i < n; i++)
    {
      if (strcmp (names[i], o->run) == 0)
        {
          hit = names[i], hits = 1;
          break;
        }
      if (strncmp (names[i], o->run, strlen (o->run)) == 0)
        hit = names[i], hits++;
    }
  if (hits != 1)
    {
      free_runs (names, n);
      return tr_fail (err, 0, "%s: %s in %s/traces (tactus-run trace list shows them)", o->run,
                      hits ? "more than one run starts so" : "no such run", storage_dir);
    }
  snprintf (id, size, "%s", hit);
  snprintf (file, sizeof file, "%s.jsonl", hit);
  free_runs (names, n);
  fd = openat (dir, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  return fd < 0 ? tr_fail (err, errno, "%s/traces/%s", storage_dir, file) : fd;
}

static const cJSON *
last_of (const cJSON *events, const char *type)
{
  const cJSON *ev, *found = NULL;
  cJSON_ArrayForEach (ev, events)
  {
    const char *t = ujson_str (ev, "event_type");
    if (t && strcmp (t, type) == 0)
      found = ev;
  }
  return found;
}

/* ---- the subcommands ---- */

static int
trace_list (const struct trace_options *o, const char *storage_dir)
{
  struct tr_error err;
  cleanup_close int dir = trace_store_dir (storage_dir, false, &err);
  char **names;
  size_t n;
  cJSON *out = o->json ? cJSON_CreateArray () : NULL;

  if (dir < 0)
    {
      if (err.errnum == ENOENT)
        {
          if (o->json)
            printf ("[]\n");
          else
            printf ("no traces in %s/traces (runs with --storage file keep theirs there)\n",
                    storage_dir);
          cJSON_Delete (out);
          return 0;
        }
      present_error (stderr, NULL, &err);
      cJSON_Delete (out);
      return 1;
    }
  names = list_runs (dir, &n);
  if (!o->json)
    printf ("%-44s %-24s %-12s %10s %7s\n", "RUN", "STARTED", "STATUS", "DURATION", "EVENTS");
  for (size_t i = 0; i < n; i++)
    {
      char file[NAME_MAX + 1];
      cleanup_close int fd = -1;
      cJSON *events = NULL;
      const cJSON *sum, *first;
      int bad = 0;
      struct tr_error e2;

      snprintf (file, sizeof file, "%s.jsonl", names[i]);
      fd = openat (dir, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
      if (fd >= 0)
        events = read_events (fd, &bad, &e2);
      sum = last_of (events, "execution_summary");
      first = cJSON_GetArrayItem (events, 0);
      if (o->json)
        {
          cJSON *r = cJSON_CreateObject ();
          cJSON_AddStringToObject (r, "run_id", names[i]);
          if (ujson_str (first, "timestamp"))
            cJSON_AddStringToObject (r, "started", ujson_str (first, "timestamp"));
          cJSON_AddStringToObject (
              r, "status", ujson_str (sum, "status") ? ujson_str (sum, "status") : "unfinished");
          if (sum)
            {
              cJSON_AddNumberToObject (r, "exit_code", ujson_num (sum, "exit_code", -1));
              cJSON_AddNumberToObject (r, "duration_ms", ujson_num (sum, "duration_ms", 0));
            }
          cJSON_AddNumberToObject (r, "events", cJSON_GetArraySize (events));
          cJSON_AddItemToArray (out, r);
        }
      else
        {
          char started[32], status[16];
          snprintf (started, sizeof started, "%s",
                    ujson_str (first, "timestamp") ? ujson_str (first, "timestamp") : "?");
          snprintf (status, sizeof status, "%s",
                    ujson_str (sum, "status") ? ujson_str (sum, "status") : "unfinished");
          untrusted_clean (started);
          untrusted_clean (status);
          printf ("%-44s %-24s %-12s", names[i], started, status);
          if (sum)
            printf (" %7.0f ms", ujson_num (sum, "duration_ms", 0));
          else
            printf (" %10s", "-");
          printf (" %7d\n", cJSON_GetArraySize (events));
        }
      cJSON_Delete (events);
    }
  if (o->json)
    {
      char *t = cJSON_PrintUnformatted (out);
      printf ("%s\n", t ? t : "[]");
      cJSON_free (t);
    }
  else if (n == 0)
    printf ("(no runs yet)\n");
  cJSON_Delete (out);
  free_runs (names, n);
  return 0;
}

static int
trace_show_or_export (const struct trace_options *o, const char *storage_dir)
{
  struct tr_error err;
  char id[PATH_MAX];
  cleanup_close int fd = -1;
  cJSON *events, *ev;
  int bad = 0, code = 0;

  tr_error_clear (&err);
  fd = open_run (o, storage_dir, id, sizeof id, &err);
  if (fd < 0)
    {
      fprintf (stderr, "tactus-run trace: %s\n", err.msg);
      return 1;
    }
  events = read_events (fd, &bad, &err);
  if (events == NULL)
    {
      fprintf (stderr, "tactus-run trace: %s: %s\n", id, err.msg);
      return 1;
    }
  if (bad)
    fprintf (stderr, "tactus-run trace: %s: %d line%s not an event (skipped)\n", id, bad,
             bad == 1 ? " is" : "s are");
  if (strcmp (o->sub, "export") == 0)
    {
      FILE *f = strcmp (o->out, "-") == 0 ? stdout : fopen (o->out, "we");
      bool lines = o->format && strcmp (o->format, "jsonl") == 0;
      if (f == NULL)
        {
          fprintf (stderr, "tactus-run trace: %s: %s\n", o->out, strerror (errno));
          cJSON_Delete (events);
          return 1;
        }
      if (lines)
        cJSON_ArrayForEach (ev, events)
        {
          char *t = cJSON_PrintUnformatted (ev);
          fprintf (f, "%s\n", t ? t : "{}");
          cJSON_free (t);
        }
      else
        {
          char *t = cJSON_Print (events);
          fprintf (f, "%s\n", t ? t : "[]");
          cJSON_free (t);
        }
      if (f != stdout && fclose (f) != 0)
        code = 1;
      if (f != stdout)
        fprintf (stderr, "exported %d events of %s to %s\n", cJSON_GetArraySize (events), id,
                 o->out);
      cJSON_Delete (events);
      return code;
    }
  {
    struct trace t = { 0 };
    struct present view;
    int shown = 0;
    present_init (&view, stdout, PRESENT_COLOR_AUTO);
    view.verbose = true;
    if (o->json)
      t.jsonl = stdout;
    else
      {
        present_trace_attach (&t, &view, true);
        t.ask = NULL;
        untrusted_clean_tree (events);
        printf ("run %s\n", id);
      }
    cJSON_ArrayForEach (ev, events)
    {
      if (o->position > 0)
        {
          const char *type = ujson_str (ev, "event_type");
          if (!type || strcmp (type, "checkpoint_created") != 0
              || (long) ujson_num (ev, "checkpoint_position", -1) != o->position)
            continue;
        }
      trace_event (&t, ev);
      shown++;
    }
    if (o->position > 0 && shown == 0)
      {
        fprintf (stderr, "tactus-run trace: %s has no checkpoint at position %ld\n", id,
                 o->position);
        code = 1;
      }
    present_finish (&view);
  }
  cJSON_Delete (events);
  return code;
}

int
cmd_trace (int argc, char **argv)
{
  struct trace_options o = { 0 };
  struct tr_config cfg;
  struct tr_error err;
  char storage_dir[PATH_MAX + 32];
  int r;

  /* tactus-run trace-show RUN is tactus-run trace show RUN.  */
  if (argc > 0 && strncmp (argv[0], "trace-", 6) == 0)
    {
      char **args = calloc ((size_t) argc + 2, sizeof *args);
      if (args == NULL)
        return 1;
      args[0] = (char *) "trace";
      args[1] = argv[0] + 6;
      for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
      r = cmd_trace (argc + 1, args);
      free (args);
      return r;
    }
  r = parse_trace_args (argc, argv, &o);
  if (r != 0)
    return r;
  config_init (&cfg);
  tr_error_clear (&err);
  if (config_load (&cfg, NULL, &err) < 0)
    {
      present_error (stderr, NULL, &err);
      config_free (&cfg);
      return 1;
    }
  run_storage_dir (&cfg, o.storage_path, storage_dir, sizeof storage_dir);
  config_free (&cfg);
  if (strcmp (o.sub, "list") == 0)
    return trace_list (&o, storage_dir);
  return trace_show_or_export (&o, storage_dir);
}
