/* tactus-run trust: record, list and forget the project-local config
 * layers the user trusts (policy/trust.h).
 *
 *   tactus-run trust FILE...          FILE: NAME.tac.yml (or NAME.tac for
 *                                     its sidecar) or .tactus/config.yml
 *   tactus-run trust --list
 *   tactus-run trust --remove FILE...
 *
 * A sidecar is trusted together with its procedure: both hashes are kept,
 * and a change to either needs a new `tactus-run trust`.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "cli/present.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "common/userdir.h"
#include "policy/config.h"
#include "policy/trust.h"

#define MAX_LAYER (1 << 20)
#define MAX_PROCEDURE (4 << 20)

/* A path as data on the terminal: control characters shown as '?'.  */
static void
put_path (FILE *f, const char *p)
{
  for (; *p; p++)
    fputc (((unsigned char) *p < 0x20 || *p == 0x7f) ? '?' : *p, f);
}

static bool
ends_with (const char *s, const char *suffix)
{
  size_t n = strlen (s), m = strlen (suffix);
  return n >= m && strcmp (s + n - m, suffix) == 0;
}

/* FILE as a layer: its path in LAYER, and for a sidecar its procedure's
 * in PROC ("" for a project config).  */
static int
classify (const char *file, char *layer, char *proc, struct tr_error *err)
{
  char copy[PATH_MAX], parent[PATH_MAX];

  proc[0] = '\0';
  if (strlen (file) + 5 >= PATH_MAX)
    return tr_fail (err, ENAMETOOLONG, "%s", file);
  if (ends_with (file, ".tac"))
    {
      snprintf (layer, PATH_MAX, "%s.yml", file);
      snprintf (proc, PATH_MAX, "%s", file);
      return 0;
    }
  snprintf (layer, PATH_MAX, "%s", file);
  if (ends_with (file, ".tac.yml"))
    {
      snprintf (proc, PATH_MAX, "%.*s", (int) (strlen (file) - 4), file);
      return 0;
    }
  snprintf (copy, sizeof copy, "%s", file);
  snprintf (parent, sizeof parent, "%s", basename (dirname (copy)));
  if (strcmp (basename (strcpy (copy, file)), "config.yml") == 0 && strcmp (parent, ".tactus") == 0)
    return 0;
  return tr_fail (err, 0,
                  "%s is not a project-local config: trust takes a sidecar NAME.tac.yml (or its "
                  "procedure NAME.tac) or a .tactus/config.yml (--config FILE needs no trust)",
                  file);
}

static int
trust_one (const char *file)
{
  char layer[PATH_MAX], proc[PATH_MAX], real[PATH_MAX], proc_real[PATH_MAX] = "",
                                                        hex[TR_SHA256_HEX];
  cleanup_free char *text = NULL, *ptext = NULL;
  cleanup_strv char **grants = NULL;
  struct trust_subject subj;
  struct tr_error err;
  size_t len = 0, plen = 0;
  int ng;

  tr_error_clear (&err);
  if (classify (file, layer, proc, &err) < 0
      || tr_read_file (layer, MAX_LAYER, &text, &len, real, sizeof real, &err) < 0)
    goto fail;
  if (text == NULL)
    {
      tr_fail (&err, ENOENT, "%s", layer);
      goto fail;
    }
  if (proc[0]
      && (tr_read_file (proc, MAX_PROCEDURE, &ptext, &plen, proc_real, sizeof proc_real, &err) < 0
          || (ptext == NULL
              && tr_fail (&err, ENOENT, "%s (a sidecar is trusted together with its procedure)",
                          proc)
                     < 0)))
    goto fail;
  ng = config_layer_grants (layer, text, len, &grants, &err);
  if (ng < 0)
    goto fail;
  if (trust_subject_make (&subj, real, text, len, proc_real, proc[0] ? ptext : NULL, plen, &err) < 0
      || trust_add (&subj, &err) < 0)
    goto fail;
  tr_hex (subj.sha256, TR_SHA256_LEN, hex);
  printf ("Trusted ");
  put_path (stdout, real);
  printf (" (sha256 %.16s…)", hex);
  if (subj.bound)
    {
      tr_hex (subj.procedure_sha256, TR_SHA256_LEN, hex);
      printf (" with its procedure ");
      put_path (stdout, proc_real);
      printf (" (sha256 %.16s…)", hex);
    }
  printf ("\n");
  if (ng == 0)
    printf ("  It grants nothing beyond /etc/tactus and ~/.tactus (a run honours it untrusted).\n");
  for (char **g = grants; g && *g; g++)
    printf ("  %s %s\n", g == grants ? "It grants:" : "          ", *g);
  return 0;
fail:
  present_error (stderr, NULL, &err);
  return 1;
}

static const char *
jstr (const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, k);
  return cJSON_IsString (v) ? v->valuestring : NULL;
}

/* "matches", "changed" or "missing": FILE now against HEX.  */
static const char *
current (const char *file, const char *hex)
{
  cleanup_free char *text = NULL;
  char real[PATH_MAX], now[TR_SHA256_HEX];
  uint8_t sha[TR_SHA256_LEN];
  struct tr_error err;
  size_t len;

  if (tr_read_file (file, MAX_PROCEDURE, &text, &len, real, sizeof real, &err) < 0 || text == NULL)
    return "missing";
  if (tr_sha256 (text, len, sha, &err) < 0)
    return "?";
  tr_hex (sha, sizeof sha, now);
  return hex && strcmp (hex, now) == 0 ? "matches" : "changed since";
}

static int
trust_list (void)
{
  cJSON *records, *r;
  struct tr_error err;
  char dir[PATH_MAX];

  tr_error_clear (&err);
  if (trust_records (&records, &err) < 0)
    {
      present_error (stderr, NULL, &err);
      return 1;
    }
  if (cJSON_GetArraySize (records) == 0)
    printf ("Nothing is trusted.\n");
  cJSON_ArrayForEach (r, records)
  {
    const char *file = jstr (r, "file"), *proc = jstr (r, "procedure");
    if (file == NULL)
      continue;
    put_path (stdout, file);
    printf ("\n    trusted %s, content %s\n", jstr (r, "trusted_at") ? jstr (r, "trusted_at") : "?",
            current (file, jstr (r, "sha256")));
    if (proc)
      {
        printf ("    with its procedure ");
        put_path (stdout, proc);
        printf (", content %s\n", current (proc, jstr (r, "procedure_sha256")));
      }
  }
  cJSON_Delete (records);
  if (userdir_state_path (dir, sizeof dir, &err) == 0)
    {
      printf ("(store: ");
      put_path (stdout, dir);
      printf ("/trusted.json)\n");
    }
  return 0;
}

static int
trust_forget (const char *file)
{
  char layer[PATH_MAX], proc[PATH_MAX], real[PATH_MAX];
  struct tr_error err;
  bool found;

  tr_error_clear (&err);
  /* A file that is gone may still have a record: its path then counts as
   * given (made absolute), as --list shows it.  */
  if (classify (file, layer, proc, &err) < 0)
    snprintf (layer, sizeof layer, "%s", file);
  if (realpath (layer, real) == NULL)
    {
      char cwd[PATH_MAX];
      if (layer[0] == '/' || getcwd (cwd, sizeof cwd) == NULL)
        snprintf (real, sizeof real, "%s", layer);
      else
        snprintf (real, sizeof real, "%s/%s", cwd, layer);
    }
  if (trust_remove (real, &found, &err) < 0)
    {
      present_error (stderr, NULL, &err);
      return 1;
    }
  if (!found)
    {
      fprintf (stderr, "tactus-run trust: ");
      put_path (stderr, real);
      fprintf (stderr, " is not trusted (see tactus-run trust --list)\n");
      return 1;
    }
  printf ("No longer trusted: ");
  put_path (stdout, real);
  printf ("\n");
  return 0;
}

int
cmd_trust (int argc, char **argv)
{
  bool remove = false, options = true;
  int rc = 0, files = 0;

  if (cli_check_options (CLI_C_TRUST, argc, argv) < 0)
    return 1;
  for (int i = 1; i < argc && options; i++)
    {
      if (strcmp (argv[i], "--") == 0)
        options = false;
      else if (strcmp (argv[i], "--list") == 0)
        {
          if (argc != 2)
            {
              fprintf (stderr, "tactus-run trust: --list takes no other argument\n");
              return 1;
            }
          return trust_list ();
        }
      else if (strcmp (argv[i], "--remove") == 0 && i == 1)
        remove = true;
      else if (argv[i][0] == '-')
        {
          fprintf (stderr, "tactus-run trust: unknown option '%s' (--list, --remove)\n", argv[i]);
          return 1;
        }
    }
  options = true;
  for (int i = remove ? 2 : 1; i < argc; i++)
    {
      if (options && strcmp (argv[i], "--") == 0)
        {
          options = false;
          continue;
        }
      files++;
      if ((remove ? trust_forget (argv[i]) : trust_one (argv[i])) != 0)
        rc = 1;
    }
  if (files == 0)
    {
      cli_usage_lines (CLI_C_TRUST, stderr);
      fprintf (stderr, "(see tactus-run trust --help)\n");
      return 1;
    }
  return rc;
}
