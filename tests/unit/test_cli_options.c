/* The option table (cli/options.def): what parsing, --help, the client,
 * the man page and the completions all rely on.  The table's C is linked
 * in directly (the CLI's objects are not in libtactus.a).  */
#include <ctype.h>
#include <string.h>

#include "cli/options_table.c"
#include "tests/unit/unit.h"

static bool
is_choice_list (const char *v)
{
  for (const char *p = v; *p; p++)
    if (!(islower ((unsigned char) *p) || isdigit ((unsigned char) *p) || *p == '|'))
      return false;
  return v[0] != '|' && v[strlen (v) - 1] != '|' && strstr (v, "||") == NULL;
}

int
main (void)
{
  char why[256] = "";
  bool ok;

  /* Every command has --help and fits the parser's array.  */
  ok = true;
  for (int c = 0; c < CLI_N_CMDS && ok; c++)
    {
      size_t n = 0;
      for (size_t i = 0; i < cli_n_options; i++)
        n += cli_options[i].cmd == (enum cli_cmd_id) c;
      if (n > CLI_MAX_OPTIONS || cli_option_find ((enum cli_cmd_id) c, "help", 4) == NULL)
        {
          ok = false;
          snprintf (why, sizeof why, "%s: %zu options, help %s", cli_commands[c].name, n,
                    cli_option_find ((enum cli_cmd_id) c, "help", 4) ? "yes" : "no");
        }
    }
  report (ok, "cli options: every command has --help and at most CLI_MAX_OPTIONS", "%s", why);

  /* No command lists a long or short name twice.  */
  ok = true;
  for (size_t i = 0; i < cli_n_options && ok; i++)
    for (size_t j = i + 1; j < cli_n_options && ok; j++)
      if (cli_options[i].cmd == cli_options[j].cmd
          && (cli_options[i].id == cli_options[j].id
              || (cli_options[i].short_name
                  && cli_options[i].short_name == cli_options[j].short_name)))
        {
          ok = false;
          snprintf (why, sizeof why, "%s: --%s", cli_commands[cli_options[i].cmd].name,
                    cli_opt_name (cli_options[j].id));
        }
  report (ok, "cli options: no name twice in a command", "%s", why);

  /* Every long name is used, and is lower case with dashes.  */
  ok = true;
  for (int id = CLI_O_FIRST_ + 1; id < CLI_O_END_ && ok; id++)
    {
      const char *n = cli_opt_name ((enum cli_opt_id) id);
      bool used = false;
      for (size_t i = 0; i < cli_n_options; i++)
        used |= cli_options[i].id == (enum cli_opt_id) id;
      if (!used || n == NULL || strspn (n, "abcdefghijklmnopqrstuvwxyz-") != strlen (n))
        {
          ok = false;
          snprintf (why, sizeof why, "%s%s", n ? n : "(null)", used ? "" : " unused");
        }
    }
  report (ok, "cli options: every long name is used and well formed", "%s", why);

  /* A value with | is a list of fixed values; help and texts are there.  */
  ok = true;
  for (size_t i = 0; i < cli_n_options && ok; i++)
    {
      const struct cli_option *o = &cli_options[i];
      if ((o->value && strchr (o->value, '|') && strchr (o->value, '[') == NULL
           && !is_choice_list (o->value))
          || o->help == NULL || o->help[0] == '\0')
        {
          ok = false;
          snprintf (why, sizeof why, "--%s", cli_opt_name (o->id));
        }
    }
  for (int c = 0; c < CLI_N_CMDS && ok; c++)
    if (!cli_commands[c].synopsis[0] || !cli_commands[c].summary[0]
        || !cli_commands[c].description[0] || !cli_commands[c].exit_status[0])
      {
        ok = false;
        snprintf (why, sizeof why, "%s", cli_commands[c].name);
      }
  report (ok, "cli options: every value list, help, synopsis and exit status is filled", "%s", why);

  /* A subcommand's group exists ("sandbox exec" needs "sandbox").  */
  ok = true;
  for (int c = 0; c < CLI_N_CMDS && ok; c++)
    {
      const char *sp = strchr (cli_commands[c].name, ' ');
      char group[64];
      if (sp == NULL)
        continue;
      snprintf (group, sizeof group, "%.*s", (int) (sp - cli_commands[c].name),
                cli_commands[c].name);
      if (cli_command_find (group) < 0)
        {
          ok = false;
          snprintf (why, sizeof why, "%s", cli_commands[c].name);
        }
    }
  report (ok, "cli options: every subcommand's group is a command", "%s", why);

  /* Lookups: exact names only, short letters per command.  */
  report (cli_option_find (CLI_C_RUN, "mock-all", 8) && !cli_option_find (CLI_C_RUN, "mock-al", 7)
              && cli_option_find (CLI_C_RUN, "mock", 4)->value != NULL
              && cli_option_find (CLI_C_TEST, "mock", 4)->value == NULL,
          "cli options: lookups take exact names, per command", "%s", "");
  report (cli_option_short (CLI_C_RUN, 'i') && !cli_option_short (CLI_C_TEST, 'i')
              && cli_option_short (CLI_C_RUN, 'i')->id == CLI_O_INTERACTIVE,
          "cli options: short letters are per command", "%s", "");
  /* The client forwards a subset of run's options (plus its socket).  */
  ok = true;
  for (size_t i = 0; i < cli_n_options && ok; i++)
    if (cli_options[i].cmd == CLI_C_CLIENT && cli_options[i].id != CLI_O_SOCKET
        && cli_option_find (CLI_C_RUN, cli_opt_name (cli_options[i].id),
                            strlen (cli_opt_name (cli_options[i].id)))
               == NULL)
      {
        ok = false;
        snprintf (why, sizeof why, "--%s", cli_opt_name (cli_options[i].id));
      }
  report (ok, "cli options: the client's options are run's (but --socket)", "%s", why);
  return failures ? 1 : 0;
}
