/* tactus-run answer FILE.tac VALUE: answer the human-in-the-loop request a
 * paused run (--storage file) is waiting for.  The next
 * `tactus-run run FILE.tac --storage file` replays to that point and
 * continues with the answer.  */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/checkpoint_store.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "cli/present.h"
#include "policy/config.h"

int
cmd_answer (int argc, char **argv)
{
  const char *file = NULL, *value = NULL, *dir = NULL;
  char copy[PATH_MAX], name[256], question[512];
  struct checkpoint_store store;
  struct tr_error err;
  struct tr_config cfg;
  int rc = 1;

  struct cli_parser p;
  int c;

  if (cli_parse_begin (&p, CLI_C_ANSWER, argc, argv) < 0)
    return 1;
  while ((c = cli_next (&p)) > 0)
    if (c == CLI_O_STORAGE_PATH)
      dir = p.arg;
  if (c < 0)
    return 1;
  if (optind + 2 != argc)
    {
      if (optind + 2 < argc)
        fprintf (stderr, "tactus-run answer: unexpected argument '%s'\n", argv[optind + 2]);
      cli_usage_lines (CLI_C_ANSWER, stderr);
      fprintf (stderr, "  VALUE: yes/no for approvals, text for inputs, or JSON\n"
                       "(see tactus-run answer --help)\n");
      return 1;
    }
  file = argv[optind];
  value = argv[optind + 1];
  /* The same place `run` uses: --storage-path, else the config's
   * storage_path, else the state directory (broker/checkpoint_store.h).  */
  config_init (&cfg);
  tr_error_clear (&err);
  if (dir == NULL && config_load (&cfg, file, &err) < 0)
    {
      present_error (stderr, NULL, &err);
      config_free (&cfg);
      return 1;
    }
  if (dir == NULL)
    dir = cfg.storage_dir;
  snprintf (copy, sizeof copy, "%s", file);
  snprintf (name, sizeof name, "%s", basename (copy));
  if (strlen (name) > 4 && strcmp (name + strlen (name) - 4, ".tac") == 0)
    name[strlen (name) - 4] = '\0';
  tr_error_clear (&err);
  if (checkpoint_store_init (&store, dir, file, name, &err) < 0
      || storage_answer (&store, value, question, sizeof question, &err) < 0)
    present_error (stderr, NULL, &err);
  else
    {
      /* The question is the cage's text (kept in the stored run).  */
      fputs ("Answered \"", stdout);
      present_put (stdout, question, sizeof question, "  ", 0);
      fputs ("\" with ", stdout);
      present_put (stdout, value, 4000, NULL, PRESENT_ONE_LINE);
      fputs (".\nContinue with: tactus-run run ", stdout);
      present_put (stdout, file, 4000, NULL, PRESENT_ONE_LINE);
      fputs (" --storage file\n", stdout);
      rc = 0;
    }
  checkpoint_store_close (&store);
  config_free (&cfg);
  return rc;
}
