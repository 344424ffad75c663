/* The reporter of `tactus-run test` and `eval` (test_report.h).  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/test_report.h"
#include "cli/present.h"

#define jstr ujson_str
#define jnum ujson_num

static int
outcome_code (const cJSON *r)
{
  const cJSON *c = cJSON_GetObjectItemCaseSensitive (r, "code");
  return cJSON_IsNumber (c) ? c->valueint : 1;
}

static bool
run_passed (const cJSON *r)
{
  const cJSON *res = cJSON_GetObjectItemCaseSensitive (r, "result");
  const char *st = jstr (res, "status");
  return outcome_code (r) == 0 && st && strcmp (st, "passed") == 0;
}

/* A run's shape, to compare runs: each step's status, or the VM's status.  */
static void
run_signature (const cJSON *r, char *buf, size_t size)
{
  const cJSON *steps
      = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (r, "result"), "steps");
  const cJSON *st;
  size_t n = 0;

  if (outcome_code (r) != 0 || steps == NULL)
    {
      snprintf (buf, size, "vm:%s", jstr (r, "status") ? jstr (r, "status") : "?");
      return;
    }
  buf[0] = '\0';
  cJSON_ArrayForEach (st, steps)
  {
    const char *s = jstr (st, "status");
    if (n + 2 >= size)
      break;
    buf[n++] = s ? s[0] : '?';
    buf[n] = '\0';
  }
}

/* The first failing step of run R: "Then the x ..." and why.  */
static void
run_failure (const cJSON *r, const char **keyword, const char **step, const char **why, int *line)
{
  const cJSON *res = cJSON_GetObjectItemCaseSensitive (r, "result");
  const cJSON *steps = cJSON_GetObjectItemCaseSensitive (res, "steps");
  const cJSON *st;

  *keyword = *step = NULL;
  *line = 0;
  *why = jstr (r, "message");
  if (outcome_code (r) != 0 || steps == NULL)
    return;
  cJSON_ArrayForEach (st, steps)
  {
    const char *s = jstr (st, "status");
    if (s && strcmp (s, "passed") != 0 && strcmp (s, "skipped") != 0)
      {
        *keyword = jstr (st, "keyword");
        *step = jstr (st, "step");
        *why = jstr (st, "message");
        *line = (int) jnum (st, "line", 0);
        return;
      }
  }
}

void
scenario_finalize (struct scenario_report *sc)
{
  char first[512] = "", sig[512];
  const cJSON *r;
  bool have = false;

  sc->passed = sc->failed = 0;
  sc->consistent = true;
  cJSON_ArrayForEach (r, sc->runs)
  {
    if (run_passed (r))
      sc->passed++;
    else
      sc->failed++;
    run_signature (r, sig, sizeof sig);
    if (!have)
      snprintf (first, sizeof first, "%s", sig), have = true;
    else if (strcmp (first, sig) != 0)
      sc->consistent = false;
  }
  if (!sc->consistent)
    sc->status = "flaky";
  else
    sc->status = sc->failed == 0 ? "passed" : "failed";
}

static void
print_steps (const cJSON *r)
{
  const cJSON *steps
      = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (r, "result"), "steps");
  const cJSON *st;

  cJSON_ArrayForEach (st, steps)
  {
    const char *s = jstr (st, "status");
    const char *mark = !s                           ? "?"
                       : strcmp (s, "passed") == 0  ? "✓"
                       : strcmp (s, "skipped") == 0 ? "-"
                                                    : "✗";
    bool plain = s && (strcmp (s, "passed") == 0 || strcmp (s, "failed") == 0);
    printf ("        %s %s %s%s%s%s\n", mark, jstr (st, "keyword") ? jstr (st, "keyword") : "",
            jstr (st, "step") ? jstr (st, "step") : "", plain ? "" : "  (",
            plain ? "" : (s ? s : "?"), plain ? "" : ")");
  }
}

/* FILE: the procedure, whose line the step is on when the VM says the
 * lines are the file's (lines_in_file); else the line is the Gherkin
 * text's (a Specification built at run time).  */
static void
print_failure_of (const cJSON *r, const char *prefix, const char *file)
{
  const cJSON *res = cJSON_GetObjectItemCaseSensitive (r, "result");
  const char *kw, *step, *why;
  int line;

  run_failure (r, &kw, &step, &why, &line);
  if (step)
    printf ("      %s%s %s", prefix, kw ? kw : "", step);
  else
    printf ("      %sthe scenario's run failed", prefix);
  if (line > 0 && file && cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (res, "lines_in_file")))
    printf ("   (%s:%d)", file, line);
  else if (line > 0)
    printf ("   (spec line %d)", line);
  printf ("\n");
  if (why && *why)
    {
      /* indent continuation lines too */
      const char *p = why;
      while (*p)
        {
          const char *nl = strchr (p, '\n');
          int n = nl ? (int) (nl - p) : (int) strlen (p);
          printf ("        %.*s\n", n, p);
          p += n;
          if (*p == '\n')
            p++;
        }
    }
}

void
scenario_print (const struct test_report_opts *o, struct scenario_report *sc,
                const char **last_feature)
{
  const cJSON *r;
  int i = 0;

  if (sc->shown_feature
      && (*last_feature == NULL || strcmp (*last_feature, sc->shown_feature) != 0))
    {
      printf ("Feature: %s\n", sc->shown_feature);
      *last_feature = sc->shown_feature;
    }
  if (strcmp (sc->status, "passed") == 0)
    {
      printf ("  %sPASS%s  %s", present_sgr (o->out, PS_GREEN), present_sgr (o->out, PS_RESET),
              sc->shown);
      if (o->runs > 1)
        printf ("  (%d/%d runs)\n", sc->passed, sc->passed + sc->failed);
      else
        printf ("\n");
      if (o->verbose)
        print_steps (cJSON_GetArrayItem (sc->runs, 0));
      return;
    }
  if (strcmp (sc->status, "flaky") == 0)
    {
      const cJSON *q;
      int shown = 0;
      printf ("  %sFAIL%s  %s  (flaky: %d of %d runs passed; the runs do not agree)\n",
              present_sgr (o->out, PS_RED), present_sgr (o->out, PS_RESET), sc->shown, sc->passed,
              sc->passed + sc->failed);
      /* Each distinct failure once, with the runs that had it.  */
      cJSON_ArrayForEach (r, sc->runs)
      {
        const char *kw, *step, *why, *kw2, *step2, *why2;
        int line, line2, j = 0, seen = 0;
        char prefix[512];
        size_t n;
        i++;
        if (run_passed (r))
          continue;
        run_failure (r, &kw, &step, &why, &line);
        cJSON_ArrayForEach (q, sc->runs)
        {
          if (++j >= i)
            break;
          if (run_passed (q))
            continue;
          run_failure (q, &kw2, &step2, &why2, &line2);
          if (line == line2 && (why == why2 || (why && why2 && strcmp (why, why2) == 0)))
            seen = 1;
        }
        if (seen)
          continue;
        if (++shown > 5)
          {
            printf ("      ... and more failures\n");
            break;
          }
        n = (size_t) snprintf (prefix, sizeof prefix, "run");
        j = 0;
        cJSON_ArrayForEach (q, sc->runs)
        {
          j++;
          if (run_passed (q))
            continue;
          run_failure (q, &kw2, &step2, &why2, &line2);
          if (line == line2 && (why == why2 || (why && why2 && strcmp (why, why2) == 0))
              && n < sizeof prefix - 16)
            n += (size_t) snprintf (prefix + n, sizeof prefix - n, "%s %d", n > 3 ? "," : "", j);
        }
        snprintf (prefix + n, sizeof prefix - n, ": ");
        print_failure_of (r, prefix, o->file);
        if (o->verbose)
          print_steps (r);
      }
      return;
    }
  printf ("  %sFAIL%s  %s", present_sgr (o->out, PS_RED), present_sgr (o->out, PS_RESET),
          sc->shown);
  if (o->runs > 1)
    printf ("  (0/%d runs)\n", sc->passed + sc->failed);
  else
    printf ("\n");
  r = cJSON_GetArrayItem (sc->runs, 0);
  print_failure_of (r, "", o->file);
  if (o->verbose)
    print_steps (r);
}

int
test_report_early (const struct test_report_opts *o, int code, const char *fmt, ...)
{
  char msg[4096];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  untrusted_clean (msg);
  fprintf (stderr, "tactus-run %s: %s\n", o->cmd, msg);
  if (o->json)
    {
      cJSON *r = cJSON_CreateObject ();
      char *t;
      cJSON_AddStringToObject (r, "file", o->file);
      cJSON_AddStringToObject (r, "error", msg);
      cJSON_AddNumberToObject (r, "exit_code", code);
      t = cJSON_PrintUnformatted (r);
      printf ("%s\n", t ? t : "{}");
      cJSON_free (t);
      cJSON_Delete (r);
    }
  return code;
}

int
test_report_finish (const struct test_report_opts *o, struct scenario_report *reports, int n_sel,
                    int interrupted, int done, int n_jobs)
{
  cJSON *report;
  int passed = 0, failed = 0, not_run = 0, code;

  report = cJSON_CreateObject ();
  cJSON_AddStringToObject (report, "file", o->file);
  cJSON_AddBoolToObject (report, "mock", o->mock);
  cJSON_AddNumberToObject (report, "runs", o->runs);
  {
    cJSON *arr = cJSON_AddArrayToObject (report, "scenarios");
    cJSON *flaky = cJSON_CreateArray ();
    for (int i = 0; i < n_sel; i++)
      {
        struct scenario_report *r = &reports[i];
        cJSON *x = cJSON_CreateObject ();
        const char *kw, *step, *why;
        int line;
        if (!r->printed)
          {
            r->status = "not run";
            not_run++;
          }
        else if (strcmp (r->status, "passed") == 0)
          passed++;
        else
          failed++;
        if (r->printed && strcmp (r->status, "flaky") == 0)
          cJSON_AddItemToArray (flaky, cJSON_CreateString (r->name));
        cJSON_AddStringToObject (x, "name", r->name);
        if (r->feature)
          cJSON_AddStringToObject (x, "feature", r->feature);
        cJSON_AddStringToObject (x, "status", r->status);
        cJSON_AddNumberToObject (x, "passed_runs", r->passed);
        cJSON_AddNumberToObject (x, "failed_runs", r->failed);
        if (r->printed && strcmp (r->status, "passed") != 0)
          {
            const cJSON *fr = NULL, *y;
            cJSON_ArrayForEach (y, r->runs)
            {
              if (!run_passed (y))
                {
                  fr = y;
                  break;
                }
            }
            if (fr)
              {
                cJSON *f = cJSON_AddObjectToObject (x, "failure");
                run_failure (fr, &kw, &step, &why, &line);
                if (step)
                  {
                    char full[2048];
                    snprintf (full, sizeof full, "%s %s", kw ? kw : "", step);
                    cJSON_AddStringToObject (f, "step", full);
                    cJSON_AddNumberToObject (f, "line", line);
                  }
                cJSON_AddStringToObject (f, "message", why ? why : "");
              }
          }
        cJSON_AddItemToObject (x, "runs", r->runs);
        r->runs = NULL;
        cJSON_AddItemToArray (arr, x);
      }
    cJSON_AddNumberToObject (report, "passed", passed);
    cJSON_AddNumberToObject (report, "failed", failed);
    cJSON_AddNumberToObject (report, "not_run", not_run);
    cJSON_AddItemToObject (report, "flaky", flaky);
    code = interrupted ? (interrupted == SIGTERM ? 143 : 130) : failed + not_run > 0 ? 1 : 0;
    cJSON_AddNumberToObject (report, "exit_code", code);
    if (interrupted)
      cJSON_AddBoolToObject (report, "interrupted", true);
    if (o->json)
      {
        char *t = cJSON_PrintUnformatted (report);
        printf ("%s\n", t ? t : "{}");
        cJSON_free (t);
      }
    else
      {
        if (cJSON_GetArraySize (flaky) > 0)
          {
            const cJSON *f;
            printf ("flaky (the runs did not agree):");
            cJSON_ArrayForEach (f, flaky)
            {
              char *c = untrusted_clean_dup (f->valuestring);
              printf (" \"%s\"", c ? c : "");
              free (c);
            }
            printf ("\n");
          }
        if (interrupted)
          printf ("interrupted: %d of %d scenario runs finished\n", done, n_jobs);
        if (not_run)
          printf ("%d passed, %d failed, %d not run\n", passed, failed, not_run);
        else
          printf ("%d passed, %d failed\n", passed, failed);
      }
  }
  cJSON_Delete (report);
  return code;
}

void
evaluation_print (const cJSON *e)
{
  const cJSON *cases = cJSON_GetObjectItemCaseSensitive (e, "cases");
  const cJSON *c, *t, *ev;
  int width = 4, ewidth = 9;

  printf ("Evaluation: %s  (%d cases x %d runs)\n", jstr (e, "name") ? jstr (e, "name") : "?",
          cJSON_GetArraySize (cases), (int) jnum (e, "runs_per_case", 1));
  cJSON_ArrayForEach (c, cases)
  {
    const char *n = jstr (c, "name");
    if (n && (int) strlen (n) > width)
      width = (int) strlen (n) > 40 ? 40 : (int) strlen (n);
  }
  printf ("  %-*s  %-7s  %s\n", width, "CASE", "PASSED", "WHY (the first run that failed)");
  cJSON_ArrayForEach (c, cases)
  {
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive (c, "runs"), *r, *bad = NULL;
    char frac[32];
    snprintf (frac, sizeof frac, "%d/%d", (int) jnum (c, "passed", 0), (int) jnum (c, "total", 0));
    cJSON_ArrayForEach (r, runs)
    {
      if (!cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (r, "passed")))
        {
          bad = r;
          break;
        }
    }
    printf ("  %-*.*s  %-7s ", width, width, jstr (c, "name") ? jstr (c, "name") : "?", frac);
    if (bad == NULL)
      printf (" ✓");
    else if (!cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (bad, "ok")))
      printf (" the procedure failed: %s", jstr (bad, "error") ? jstr (bad, "error") : "?");
    else
      {
        const char *sep = " ";
        cJSON_ArrayForEach (ev, cJSON_GetObjectItemCaseSensitive (bad, "evaluators"))
        {
          if (!cJSON_IsFalse (cJSON_GetObjectItemCaseSensitive (ev, "passed")))
            continue;
          printf ("%s✗ %s: %s", sep, jstr (ev, "name") ? jstr (ev, "name") : "?",
                  jstr (ev, "reason") ? jstr (ev, "reason") : "failed");
          sep = "; ";
        }
      }
    printf ("\n");
  }
  cJSON_ArrayForEach (ev, cJSON_GetObjectItemCaseSensitive (e, "evaluators"))
  {
    const char *n = jstr (ev, "name");
    if (n && (int) strlen (n) > ewidth)
      ewidth = (int) strlen (n) > 50 ? 50 : (int) strlen (n);
  }
  printf ("  %-*s  %s\n", ewidth, "EVALUATOR", "PASSED");
  cJSON_ArrayForEach (ev, cJSON_GetObjectItemCaseSensitive (e, "evaluators"))
  {
    int p = (int) jnum (ev, "passed", 0), f = (int) jnum (ev, "failed", 0),
        sk = (int) jnum (ev, "skipped", 0);
    printf ("  %-*.*s  %d/%d", ewidth, ewidth, jstr (ev, "name") ? jstr (ev, "name") : "?", p,
            p + f);
    if (sk)
      printf ("  (%d skipped%s%s)", sk, jstr (ev, "skip_reason") ? ": " : "",
              jstr (ev, "skip_reason") ? jstr (ev, "skip_reason") : "");
    printf ("\n");
  }
  printf ("  success rate %.0f%% (%d/%d runs)\n", jnum (e, "success_rate", 0) * 100,
          (int) jnum (e, "passed_runs", 0), (int) jnum (e, "total_runs", 0));
  cJSON_ArrayForEach (t, cJSON_GetObjectItemCaseSensitive (e, "thresholds"))
  {
    bool ok = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (t, "passed"));
    const char *name = jstr (t, "name") ? jstr (t, "name") : "?";
    if (cJSON_IsNumber (cJSON_GetObjectItemCaseSensitive (t, "actual")))
      printf ("  %s %s: %.3g, limit %.3g", ok ? "✓" : "✗", name, jnum (t, "actual", 0),
              jnum (t, "limit", 0));
    else
      printf ("  %s %s: unknown, limit %.3g", ok ? "✓" : "✗", name, jnum (t, "limit", 0));
    if (jstr (t, "note"))
      printf ("  (%s)", jstr (t, "note"));
    printf ("\n");
  }
  printf ("  %s\n",
          cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (e, "passed")) ? "PASS" : "FAIL");
}
