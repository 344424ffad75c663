/* tactus-run: entry point and command dispatch.  Invoked as tactus-runc
 * (a link to the same binary) it speaks the runc command line instead.  */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "shim/runc.h"

#ifndef TR_VERSION
#define TR_VERSION "0.1.0"
#endif

static void
usage (FILE *out)
{
  fprintf (
      out,
      "usage: tactus-run COMMAND [ARGS]\n"
      "\n"
      "commands:\n"
      "  run FILE.tac [OPTIONS]        run a procedure in the sandbox (also: tactus-run FILE.tac)\n"
      "  answer FILE.tac VALUE         answer the request a paused run waits for\n"
      "  trust FILE [--list|--remove]  trust a project-local config (NAME.tac.yml, "
      ".tactus/config.yml)\n"
      "  serve [--socket P] [--size N] a warm pool of prepared sandboxes (tactus-run-client)\n"
      "  test FILE.tac [OPTIONS]       run the file's Specification scenarios, each in a fresh "
      "sandbox\n"
      "  eval FILE.tac [OPTIONS]       run the file's Evaluations (datasets, evaluators, "
      "thresholds)\n"
      "  validate FILE.tac [OPTIONS]   check the file without running it (in the sandbox)\n"
      "  info FILE.tac [OPTIONS]       its inputs, outputs, agents, tools, scenarios\n"
      "  trace list|show RUN|export RUN OUT\n"
      "                                the traces runs with --storage file keep\n"
      "  sandbox status [--json]       what this host supports, layer by layer\n"
      "  sandbox rebuild [--force]     check the built-in seccomp programs, drop old caches\n"
      "  sandbox exec [OPTIONS] -- PROGRAM [ARGS]\n"
      "                                run a native program in the cage\n"
      "  version                       print the version\n"
      "\n"
      "Run 'tactus-run sandbox exec --help' for the sandbox options.\n");
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
      usage (stderr);
      return 1;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
      || strcmp (argv[1], "help") == 0)
    {
      usage (stdout);
      return 0;
    }
  if (strcmp (argv[1], "version") == 0 || strcmp (argv[1], "--version") == 0
      || strcmp (argv[1], "-V") == 0)
    {
      printf ("tactus-run %s\n", TR_VERSION);
      return 0;
    }
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
  fprintf (stderr, "tactus-run: unknown command '%s' (see tactus-run --help)\n", argv[1]);
  return 1;
}
