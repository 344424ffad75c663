/* Parsing with the option table (cli/options.def).
 *
 * Long options are taken only as written: getopt_long would also take an
 * unambiguous abbreviation (--mock for --mock-all, --verb for --verbose),
 * so a typo or a Tactus flag this runtime spells differently could silently
 * mean another option.  cli_parse_begin checks every long option against
 * the command's entries before getopt_long sees them, and refuses any other
 * with a suggestion from common/suggest.c.  */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "common/suggest.h"

int
cli_usage_error (enum cli_cmd_id cmd, const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "tactus-run %s: ", cli_commands[cmd].name);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, "\n(see tactus-run %s --help)\n", cli_commands[cmd].name);
  return 1;
}

/* "unknown option", with the closest of CMD's names, or the command that
 * has it (eval --scenario: an option of test).  */
static void
unknown_option (enum cli_cmd_id cmd, const char *name)
{
  const char *names[64];
  size_t n = 0;
  const char *guess;

  for (size_t i = 0; i < cli_n_options && n < sizeof names / sizeof names[0]; i++)
    if (cli_options[i].cmd == cmd)
      names[n++] = cli_opt_name (cli_options[i].id);
  guess = tr_suggest (name, names, n);
  fprintf (stderr, "tactus-run %s: unknown option '--%s'", cli_commands[cmd].name, name);
  if (guess)
    fprintf (stderr, " (did you mean --%s?)", guess);
  else
    for (size_t i = 0; i < cli_n_options; i++)
      if (cli_options[i].cmd != CLI_C_CLIENT
          && strcmp (cli_opt_name (cli_options[i].id), name) == 0)
        {
          fprintf (stderr, " (an option of tactus-run %s)", cli_commands[cli_options[i].cmd].name);
          break;
        }
  fprintf (stderr, "\n(see tactus-run %s --help)\n", cli_commands[cmd].name);
}

static int
check_options (enum cli_cmd_id cmd, int argc, char **argv, bool *help)
{
  bool stop_at_operand = cli_commands[cmd].flags & CLI_STOP_AT_OPERAND;

  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i], *eq;
      const struct cli_option *hit;
      char name[64];
      size_t len;

      if (strcmp (a, "--") == 0)
        break;
      if (strncmp (a, "--", 2) != 0)
        {
          if (stop_at_operand && a[0] != '-')
            break;
          if (strcmp (a, "-h") == 0 && cli_option_short (cmd, 'h'))
            *help = true;
          continue;
        }
      eq = strchr (a + 2, '=');
      len = eq ? (size_t) (eq - a - 2) : strlen (a + 2);
      snprintf (name, sizeof name, "%.*s", (int) (len < sizeof name ? len : sizeof name - 1),
                a + 2);
      hit = cli_option_find (cmd, a + 2, len);
      if (hit == NULL)
        {
          unknown_option (cmd, name);
          return -1;
        }
      if (hit->id == CLI_O_HELP)
        *help = true;
      /* Its value, given as the next argument, is not an option.  */
      if (hit->value && eq == NULL)
        i++;
    }
  return 0;
}

int
cli_check_options (enum cli_cmd_id cmd, int argc, char **argv)
{
  bool help = false;

  if (check_options (cmd, argc, argv, &help) < 0)
    return -1;
  if (help)
    {
      cli_usage (cmd, stdout);
      exit (0);
    }
  return 0;
}

int
cli_parse_begin (struct cli_parser *p, enum cli_cmd_id cmd, int argc, char **argv)
{
  size_t n = 0, s = 0;

  memset (p, 0, sizeof *p);
  p->cmd = cmd;
  p->argc = argc;
  p->argv = argv;
  if (cli_check_options (cmd, argc, argv) < 0)
    return -1;
  /* "+": stop at the first operand; ":": a missing value is ':'.  */
  if (cli_commands[cmd].flags & CLI_STOP_AT_OPERAND)
    p->shortopts[s++] = '+';
  p->shortopts[s++] = ':';
  for (size_t i = 0; i < cli_n_options; i++)
    {
      const struct cli_option *o = &cli_options[i];
      if (o->cmd != cmd || n >= CLI_MAX_OPTIONS)
        continue;
      p->longopts[n++]
          = (struct option){ cli_opt_name (o->id), o->value ? required_argument : no_argument, NULL,
                             (int) o->id };
      if (o->short_name && s + 3 < sizeof p->shortopts)
        {
          p->shortopts[s++] = o->short_name;
          if (o->value)
            p->shortopts[s++] = ':';
        }
    }
  p->shortopts[s] = '\0';
  optind = 1;
  opterr = 0;
  return 0;
}

int
cli_next (struct cli_parser *p)
{
  const struct cli_option *o;
  int c = getopt_long (p->argc, p->argv, p->shortopts, p->longopts, NULL);

  p->arg = optarg;
  if (c == -1)
    return 0;
  if (c == ':')
    {
      const char *a = p->argv[optind - 1];
      o = strncmp (a, "--", 2) == 0 ? cli_option_find (p->cmd, a + 2, strlen (a + 2))
                                    : cli_option_short (p->cmd, optopt);
      if (o && o->value)
        cli_usage_error (p->cmd, "option '%s' needs a value (%s %s)", a, a, o->value);
      else
        cli_usage_error (p->cmd, "option '%s' needs a value", a);
      return -1;
    }
  if (c == '?')
    {
      if (optopt > 0 && optopt < 256)
        cli_usage_error (p->cmd, "unknown option '-%c'", optopt);
      else
        cli_usage_error (p->cmd, "unknown option '%s'", p->argv[optind - 1]);
      return -1;
    }
  if (c < 256)
    {
      o = cli_option_short (p->cmd, c);
      if (o == NULL)
        {
          cli_usage_error (p->cmd, "unknown option '-%c'", c);
          return -1;
        }
      c = (int) o->id;
    }
  if (c == CLI_O_HELP)
    {
      cli_usage (p->cmd, stdout);
      exit (0);
    }
  return c;
}
