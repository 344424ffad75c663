/* tactus-run: entry point and command dispatch.  Invoked as tactus-runc
 * (a link to the same binary) it speaks the runc command line instead.  */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "common/suggest.h"
#include "cli/present.h"
#include "shim/runc.h"

#ifndef TR_VERSION
#define TR_VERSION "0.1.0"
#endif

/* tactus-run help [COMMAND [SUBCOMMAND]]  */
static int
help_cmd (int argc, char **argv)
{
  char name[128];
  int cmd;

  if (argc < 2)
    {
      cli_usage_main (stdout);
      return 0;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      cli_usage (CLI_C_HELP, stdout);
      return 0;
    }
  if (argc > 2)
    snprintf (name, sizeof name, "%s %s", argv[1], argv[2]);
  else
    snprintf (name, sizeof name, "%s", argv[1]);
  cmd = cli_command_find (name);
  if (cmd < 0 || cmd == CLI_C_CLIENT)
    {
      fprintf (stderr, "tactus-run help: no command '%s' (see tactus-run --help)\n", name);
      return 1;
    }
  cli_usage ((enum cli_cmd_id) cmd, stdout);
  return 0;
}

/* SIGPIPE would end the launcher (and its broker) with 141 and no result
 * when a host tool exits without reading its input, or a client of the
 * pool goes away: writes get EPIPE instead.  A handler, not SIG_IGN: an
 * ignored disposition is inherited across exec by every program we start
 * (host tools, `sandbox exec`), a handler is reset to the default.  */
static void
on_sigpipe (int sig)
{
  (void) sig;
}

int
main (int argc, char **argv)
{
  const char *base = argc > 0 && argv[0] ? strrchr (argv[0], '/') : NULL;

  base = base ? base + 1 : (argc > 0 && argv[0] ? argv[0] : "");
  if (strcmp (base, RUNC_NAME) == 0)
    return runc_main (argc, argv);
  {
    struct sigaction sa = { .sa_handler = on_sigpipe, .sa_flags = SA_RESTART };
    sigemptyset (&sa.sa_mask);
    sigaction (SIGPIPE, &sa, NULL);
  }
  if (argc < 2)
    {
      cli_usage_main (stderr);
      return 1;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      cli_usage_main (stdout);
      return 0;
    }
  if (strcmp (argv[1], "help") == 0)
    return help_cmd (argc - 1, argv + 1);
  if (strcmp (argv[1], "version") == 0 || strcmp (argv[1], "--version") == 0
      || strcmp (argv[1], "-V") == 0)
    {
      if (strcmp (argv[1], "version") == 0
          && cli_check_options (CLI_C_VERSION, argc - 1, argv + 1) < 0)
        return 1;
      printf ("tactus-run %s\n", TR_VERSION);
      return 0;
    }
  /* Hints in error messages name this command's flags.  */
  present_set_command (strlen (argv[1]) > 4 && strcmp (argv[1] + strlen (argv[1]) - 4, ".tac") == 0
                           ? "run"
                           : argv[1]);
  if (strcmp (argv[1], "sandbox") == 0)
    return cmd_sandbox (argc - 1, argv + 1);
  if (strcmp (argv[1], "run") == 0)
    return cmd_run (argc - 1, argv + 1);
  if (strcmp (argv[1], "answer") == 0)
    return cmd_answer (argc - 1, argv + 1);
  if (strcmp (argv[1], "trust") == 0)
    return cmd_trust (argc - 1, argv + 1);
  if (strcmp (argv[1], "serve") == 0)
    return cmd_serve (argc - 1, argv + 1);
  if (strcmp (argv[1], "test") == 0)
    return cmd_test (argc - 1, argv + 1);
  if (strcmp (argv[1], "eval") == 0)
    return cmd_eval (argc - 1, argv + 1);
  if (strcmp (argv[1], "validate") == 0)
    return cmd_validate (argc - 1, argv + 1);
  if (strcmp (argv[1], "info") == 0)
    return cmd_info (argc - 1, argv + 1);
  if (strcmp (argv[1], "trace") == 0 || strcmp (argv[1], "trace-list") == 0
      || strcmp (argv[1], "trace-show") == 0 || strcmp (argv[1], "trace-export") == 0)
    return cmd_trace (argc - 1, argv + 1);
  /* tactus-run FILE.tac is short for tactus-run run FILE.tac */
  if (strlen (argv[1]) > 4 && strcmp (argv[1] + strlen (argv[1]) - 4, ".tac") == 0)
    return cmd_run (argc, argv);
  {
    const char *names[CLI_N_CMDS];
    const char *guess;
    size_t n = 0;
    for (int i = 0; i < CLI_N_CMDS; i++)
      if (i != CLI_C_CLIENT && strchr (cli_commands[i].name, ' ') == NULL)
        names[n++] = cli_commands[i].name;
    guess = tr_suggest (argv[1], names, n);
    fprintf (stderr, "tactus-run: unknown command '%s'", argv[1]);
    if (guess)
      fprintf (stderr, " (did you mean %s?)", guess);
    fprintf (stderr, " (see tactus-run --help)\n");
  }
  return 1;
}
