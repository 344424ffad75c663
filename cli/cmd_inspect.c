/* tactus-run validate FILE.tac / tactus-run info FILE.tac: what a file
 * declares and what is wrong with it, without running it.
 *
 * The file is as untrusted as when it runs, so it is read inside the
 * sandbox, by the VM (vm/lua/inspect.lua, run.start mode "inspect"): its
 * chunk is executed dry -- declarations register, the first effect stops
 * it -- with no workspace and memory storage.  The host prints the report.
 * `run -i` asks the same report for the input schema (inspect_inputs).  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/trace.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "cli/inspect.h"
#include "cli/run_common.h"
#include "cli/present.h"
#include "policy/config.h"

#define INSPECT_TIMEOUT 60.0

int
inspect_run (const char *file, const struct inspect_options *io, cJSON **report, char *why,
             size_t why_size)
{
  struct tr_config cfg;
  char *source = NULL;
  size_t len;
  struct trace trace = { 0 };
  struct present view;
  struct run_job job = { 0 };
  struct run_result res;
  cJSON *extra;
  const cJSON *result;
  int rc = -1;

  *report = NULL;
  why[0] = '\0';
  if (run_load (file, &source, &len, &cfg) < 0)
    {
      snprintf (why, why_size, "the file or its config could not be read");
      return -1;
    }
  /* The dry run reads nothing from the workspace.  */
  cfg.workspace = CONFIG_WORKSPACE_OFF;
  present_init (&view, stderr, PRESENT_COLOR_AUTO);
  view.verbose = io->verbose;
  if (io->verbose)
    present_trace_attach (&trace, &view, true);
  extra = cJSON_CreateObject ();
  cJSON_AddStringToObject (extra, "mode", "inspect");
  job.file = file;
  job.source = source;
  job.source_len = len;
  job.cfg = &cfg;
  job.start_extra = extra;
  job.no_sandbox = io->no_sandbox;
  job.quiet_unsandboxed = io->quiet_unsandboxed;
  job.no_jit = io->no_jit;
  job.storage = STORAGE_MEMORY;
  job.approve = APPROVE_NONE;
  job.approve_set = true;
  job.timeout = cfg.timeout > 0 && cfg.timeout < INSPECT_TIMEOUT ? cfg.timeout : INSPECT_TIMEOUT;
  job.trace = &trace;
  if (run_execute (&job, &res) == 0)
    {
      result = cJSON_GetObjectItemCaseSensitive (res.out.finish, "result");
      if (res.v.code == 0 && cJSON_IsObject (result))
        {
          *report = cJSON_Duplicate (result, 1);
          rc = 0;
        }
      else
        snprintf (why, why_size, "%s",
                  res.v.message[0] ? res.v.message : "the file could not be read");
      broker_outcome_free (&res.out);
    }
  else
    snprintf (why, why_size, "the sandbox could not be started");
  present_finish (&view);
  untrusted_clean (why);
  cJSON_Delete (extra);
  free (source);
  config_free (&cfg);
  return rc;
}

/* ---- printing ---- */

static int
count (const cJSON *report, const char *key)
{
  return cJSON_GetArraySize (cJSON_GetObjectItemCaseSensitive (report, key));
}

static const char *
plural (int n, const char *one, const char *many)
{
  return n == 1 ? one : many;
}

static void
print_value (const cJSON *v)
{
  char *s = cJSON_PrintUnformatted (v);
  printf ("%s", s ? s : "?");
  cJSON_free (s);
}

static void
print_fields (const char *title, const cJSON *fields)
{
  const cJSON *f;

  if (cJSON_GetArraySize (fields) == 0)
    return;
  printf ("%s:\n", title);
  cJSON_ArrayForEach (f, fields)
  {
    const cJSON *def = cJSON_GetObjectItemCaseSensitive (f, "default");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive (f, "enum");
    printf ("  %-20s %-8s", ujson_str (f, "name") ? ujson_str (f, "name") : "?",
            ujson_str (f, "type") ? ujson_str (f, "type") : "?");
    if (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (f, "required")))
      printf (" required");
    if (def)
      {
        printf (" default ");
        print_value (def);
      }
    if (cJSON_GetArraySize (en) > 0)
      {
        printf (" one of ");
        print_value (en);
      }
    if (ujson_str (f, "description"))
      printf ("  %s", ujson_str (f, "description"));
    printf ("\n");
  }
}

static void
print_names (const cJSON *list)
{
  const cJSON *x;
  const char *sep = "";

  cJSON_ArrayForEach (x, list)
  {
    printf ("%s%s", sep, cJSON_IsString (x) ? x->valuestring : "?");
    sep = ", ";
  }
}

static void
print_problems (const cJSON *report)
{
  const cJSON *p;

  cJSON_ArrayForEach (p, cJSON_GetObjectItemCaseSensitive (report, "problems"))
  {
    printf ("  %s: %s\n", ujson_str (p, "severity") ? ujson_str (p, "severity") : "error",
            ujson_str (p, "message") ? ujson_str (p, "message") : "?");
  }
}

static void
print_info (const char *file, const cJSON *report, const struct tr_config *cfg)
{
  const cJSON *x;
  int n;

  printf ("%s\n", file);
  if (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (report, "script_mode")))
    printf ("  script mode (no Procedure { }: the file's top level is the procedure)\n");
  if (ujson_str (report, "description"))
    printf ("  %s\n", ujson_str (report, "description"));
  print_fields ("Inputs", cJSON_GetObjectItemCaseSensitive (report, "inputs"));
  print_fields ("Outputs", cJSON_GetObjectItemCaseSensitive (report, "outputs"));
  if (count (report, "agents") > 0)
    {
      printf ("Agents:\n");
      cJSON_ArrayForEach (x, cJSON_GetObjectItemCaseSensitive (report, "agents"))
      {
        printf ("  %-20s %s", ujson_str (x, "name") ? ujson_str (x, "name") : "(unnamed)",
                ujson_str (x, "model") ? ujson_str (x, "model") : "?");
        if (count (x, "tools") > 0)
          {
            printf ("  tools: ");
            print_names (cJSON_GetObjectItemCaseSensitive (x, "tools"));
          }
        printf ("\n");
      }
    }
  if (count (report, "tools") > 0)
    {
      printf ("Tools:\n");
      cJSON_ArrayForEach (x, cJSON_GetObjectItemCaseSensitive (report, "tools"))
      {
        printf ("  %-20s %s\n", ujson_str (x, "name") ? ujson_str (x, "name") : "?",
                ujson_str (x, "description") ? ujson_str (x, "description") : "");
      }
    }
  if (count (report, "toolsets") > 0)
    {
      printf ("Toolsets:\n");
      cJSON_ArrayForEach (x, cJSON_GetObjectItemCaseSensitive (report, "toolsets"))
      {
        printf ("  %-20s ", ujson_str (x, "name") ? ujson_str (x, "name") : "?");
        print_names (cJSON_GetObjectItemCaseSensitive (x, "tools"));
        printf ("\n");
      }
    }
  if (count (report, "models") > 0)
    {
      printf ("Models:\n");
      cJSON_ArrayForEach (x, cJSON_GetObjectItemCaseSensitive (report, "models"))
      {
        printf ("  %-20s %s\n", ujson_str (x, "name") ? ujson_str (x, "name") : "?",
                ujson_str (x, "type") ? ujson_str (x, "type") : "");
      }
    }
  if (count (report, "procedures") > 0)
    {
      printf ("Sub-procedures:\n");
      cJSON_ArrayForEach (x, cJSON_GetObjectItemCaseSensitive (report, "procedures"))
      {
        printf ("  %s\n", ujson_str (x, "name") ? ujson_str (x, "name") : "?");
      }
    }
  if (cfg && cfg->policy.n_stages > 0)
    {
      printf ("Stages (policy.stages):");
      for (size_t i = 0; i < cfg->policy.n_stages; i++)
        printf ("%s %s", i ? "," : "", cfg->policy.stages[i].name);
      printf ("\n");
    }
  n = count (report, "scenarios");
  if (n > 0)
    {
      const char *last = NULL;
      printf ("Specifications: %d %s\n", n, plural (n, "scenario", "scenarios"));
      cJSON_ArrayForEach (x, cJSON_GetObjectItemCaseSensitive (report, "scenarios"))
      {
        const char *feature = ujson_str (x, "feature");
        if (feature && (last == NULL || strcmp (last, feature) != 0))
          printf ("  Feature: %s\n", feature);
        last = feature;
        printf ("    %s  (%d steps)\n", ujson_str (x, "name") ? ujson_str (x, "name") : "?",
                (int) ujson_num (x, "steps", 0));
      }
    }
  n = count (report, "evaluations");
  if (n > 0)
    {
      printf ("Evaluations:\n");
      cJSON_ArrayForEach (x, cJSON_GetObjectItemCaseSensitive (report, "evaluations"))
      {
        printf ("  %-20s %d cases%s%s, %d evaluators\n",
                ujson_str (x, "name") ? ujson_str (x, "name") : "?",
                (int) ujson_num (x, "cases", 0), ujson_str (x, "dataset_file") ? " + " : "",
                ujson_str (x, "dataset_file") ? ujson_str (x, "dataset_file") : "",
                (int) ujson_num (x, "evaluators", 0));
      }
    }
  if (count (report, "problems") > 0)
    {
      printf ("Problems (tactus-run validate %s):\n", file);
      print_problems (report);
    }
}

/* ---- the commands ---- */

struct inspect_cmd
{
  const char *cmd;
  const char *file;
  bool json;
  struct inspect_options io;
};

static int
parse_inspect_args (int argc, char **argv, struct inspect_cmd *c)
{
  struct cli_parser p;
  int o;

  if (cli_parse_begin (&p, strcmp (c->cmd, "validate") == 0 ? CLI_C_VALIDATE : CLI_C_INFO, argc,
                       argv)
      < 0)
    return 1;
  while ((o = cli_next (&p)) > 0)
    switch (o)
      {
      case CLI_O_JSON:
        c->json = true;
        break;
      case CLI_O_NO_SANDBOX:
        c->io.no_sandbox = true;
        break;
      case CLI_O_NO_JIT:
        c->io.no_jit = true;
        break;
      case CLI_O_VERBOSE:
        c->io.verbose = true;
        break;
      default:
        return 1;
      }
  if (o < 0)
    return 1;
  if (optind >= argc)
    {
      fprintf (stderr, "tactus-run %s: no procedure file given (tactus-run %s FILE.tac)\n", c->cmd,
               c->cmd);
      return 1;
    }
  if (optind + 1 < argc)
    {
      fprintf (stderr, "tactus-run %s: unexpected argument '%s' (one .tac file at a time)\n",
               c->cmd, argv[optind + 1]);
      return 1;
    }
  c->file = argv[optind];
  return 0;
}

static int
inspect_main (const char *cmd, int argc, char **argv)
{
  struct inspect_cmd c = { .cmd = cmd };
  cJSON *report = NULL;
  char why[1300];
  int errors, code;

  if (parse_inspect_args (argc, argv, &c) != 0)
    return 1;
  if (inspect_run (c.file, &c.io, &report, why, sizeof why) < 0)
    {
      if (c.json)
        {
          cJSON *r = cJSON_CreateObject ();
          char *t;
          cJSON_AddStringToObject (r, "file", c.file);
          cJSON_AddBoolToObject (r, "valid", false);
          cJSON_AddStringToObject (r, "error", why);
          t = cJSON_PrintUnformatted (r);
          printf ("%s\n", t ? t : "{}");
          cJSON_free (t);
          cJSON_Delete (r);
        }
      else
        printf ("✗ %s: %s\n", c.file, why);
      return 1;
    }
  errors = (int) ujson_num (report, "errors", 1);
  code = errors > 0 ? 1 : 0;
  if (c.json)
    {
      char *t;
      cJSON_AddStringToObject (report, "file", c.file);
      cJSON_AddBoolToObject (report, "valid", errors == 0);
      t = cJSON_PrintUnformatted (report);
      printf ("%s\n", t ? t : "{}");
      cJSON_free (t);
      cJSON_Delete (report);
      return strcmp (cmd, "validate") == 0 ? code : 0;
    }
  untrusted_clean_tree (report);
  if (strcmp (cmd, "info") == 0)
    {
      struct tr_config cfg;
      char *src = NULL;
      size_t len;
      bool have_cfg = run_load (c.file, &src, &len, &cfg) == 0;
      print_info (c.file, report, have_cfg ? &cfg : NULL);
      if (have_cfg)
        {
          free (src);
          config_free (&cfg);
        }
      cJSON_Delete (report);
      return 0;
    }
  if (errors == 0)
    {
      int ns = count (report, "scenarios"), na = count (report, "agents"),
          nt = count (report, "tools");
      printf ("✓ %s is valid: %d %s, %d %s, %d %s, %d %s, %d %s\n", c.file,
              count (report, "inputs"), plural (count (report, "inputs"), "input", "inputs"),
              count (report, "outputs"), plural (count (report, "outputs"), "output", "outputs"),
              na, plural (na, "agent", "agents"), nt, plural (nt, "tool", "tools"), ns,
              plural (ns, "scenario", "scenarios"));
    }
  else
    printf ("✗ %s: %d %s\n", c.file, errors, plural (errors, "error", "errors"));
  print_problems (report);
  if (ujson_str (report, "stopped_at"))
    printf ("  (the top level stopped at %s: validate runs no effects)\n",
            ujson_str (report, "stopped_at"));
  cJSON_Delete (report);
  return code;
}

int
cmd_validate (int argc, char **argv)
{
  return inspect_main ("validate", argc, argv);
}

int
cmd_info (int argc, char **argv)
{
  return inspect_main ("info", argc, argv);
}
