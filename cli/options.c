/* Long options are taken only as written: getopt_long would also take an
 * unambiguous abbreviation (--mock for --mock-all, --verb for --verbose),
 * so a typo or a Tactus flag this runtime spells differently could silently
 * mean another option.  cli_exact_options runs before getopt_long and
 * refuses any long option that is not one of OPTS, with a suggestion from
 * common/suggest.c.  */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/suggest.h"

int
cli_exact_options (const char *cmd, int argc, char **argv, const struct option *opts,
                   bool stop_at_operand)
{
  const char *names[128];
  size_t n = 0;

  for (const struct option *o = opts; o->name && n < sizeof names / sizeof names[0]; o++)
    names[n++] = o->name;
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i], *eq;
      char name[64];
      const struct option *hit = NULL;
      size_t len;

      if (strcmp (a, "--") == 0)
        break;
      if (strncmp (a, "--", 2) != 0)
        {
          if (stop_at_operand && a[0] != '-')
            break;
          continue;
        }
      eq = strchr (a + 2, '=');
      len = eq ? (size_t) (eq - a - 2) : strlen (a + 2);
      snprintf (name, sizeof name, "%.*s", (int) (len < sizeof name ? len : sizeof name - 1),
                a + 2);
      for (const struct option *o = opts; o->name; o++)
        if (strlen (o->name) == len && strncmp (o->name, a + 2, len) == 0)
          hit = o;
      if (hit == NULL)
        {
          const char *guess = tr_suggest (name, names, n);
          fprintf (stderr, "tactus-run %s: unknown option '--%s'", cmd, name);
          if (guess)
            fprintf (stderr, " (did you mean --%s?)", guess);
          fprintf (stderr, "\n(see tactus-run %s --help)\n", cmd);
          return -1;
        }
      /* Its value, given as the next argument, is not an option.  */
      if (hit->has_arg == required_argument && eq == NULL)
        i++;
    }
  return 0;
}
