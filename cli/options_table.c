/* The option table's data (cli/options.def) and the --help it prints.
 * libc only: tactus-run-client and tools/clidoc link this file too.  */
#include <stdio.h>
#include <string.h>

#include "cli/options.h"

const struct cli_command cli_commands[CLI_N_CMDS] = {
#define CLI_CMD(id, name, flags, synopsis, summary, description, exit_status)                      \
  [CLI_C_##id] = { name, flags, synopsis, summary, description, exit_status },
#include "cli/options.def"
};

static const char *const opt_names[] = {
#define CLI_NAME(id, name) [CLI_O_##id - CLI_O_FIRST_ - 1] = name,
#include "cli/options.def"
};

const struct cli_option cli_options[] = {
#define CLI_OPT(cmd, name, short_name, value, help)                                                \
  { CLI_C_##cmd, CLI_O_##name, short_name, value, help },
#include "cli/options.def"
};

const size_t cli_n_options = sizeof cli_options / sizeof cli_options[0];

const char *
cli_opt_name (enum cli_opt_id id)
{
  if (id <= CLI_O_FIRST_ || id >= CLI_O_END_)
    return NULL;
  return opt_names[id - CLI_O_FIRST_ - 1];
}

int
cli_command_find (const char *name)
{
  for (int i = 0; i < CLI_N_CMDS; i++)
    if (strcmp (cli_commands[i].name, name) == 0)
      return i;
  return -1;
}

const struct cli_option *
cli_option_find (enum cli_cmd_id cmd, const char *name, size_t len)
{
  for (size_t i = 0; i < cli_n_options; i++)
    {
      const char *n = cli_opt_name (cli_options[i].id);
      if (cli_options[i].cmd == cmd && strlen (n) == len && strncmp (n, name, len) == 0)
        return &cli_options[i];
    }
  return NULL;
}

const struct cli_option *
cli_option_short (enum cli_cmd_id cmd, int c)
{
  for (size_t i = 0; i < cli_n_options; i++)
    if (cli_options[i].cmd == cmd && cli_options[i].short_name && cli_options[i].short_name == c)
      return &cli_options[i];
  return NULL;
}

/* TEXT's lines, the first after PREFIX, the others under INDENT spaces.  */
static void
put_lines (FILE *f, const char *prefix, int indent, const char *text)
{
  const char *p = text;

  fputs (prefix, f);
  for (;;)
    {
      const char *nl = strchr (p, '\n');
      int n = nl ? (int) (nl - p) : (int) strlen (p);
      fprintf (f, "%.*s\n", n, p);
      if (nl == NULL)
        break;
      p = nl + 1;
      fprintf (f, "%*s", indent, "");
    }
}

static const char *
prog_prefix (enum cli_cmd_id cmd)
{
  return cmd == CLI_C_CLIENT ? "" : "tactus-run ";
}

void
cli_usage_lines (enum cli_cmd_id cmd, FILE *f)
{
  const char *p = cli_commands[cmd].synopsis;
  bool first = true;

  for (;;)
    {
      const char *nl = strchr (p, '\n');
      int n = nl ? (int) (nl - p) : (int) strlen (p);
      fprintf (f, "%s%s%.*s\n", first ? "usage: " : "       ", prog_prefix (cmd), n, p);
      first = false;
      if (nl == NULL)
        break;
      p = nl + 1;
    }
}

#define HELP_COLUMN 24

void
cli_usage (enum cli_cmd_id cmd, FILE *f)
{
  const struct cli_command *c = &cli_commands[cmd];
  size_t cmd_len = strlen (c->name);

  cli_usage_lines (cmd, f);
  fputc ('\n', f);
  put_lines (f, "", 0, c->description);
  /* A group lists its subcommands.  */
  for (int i = 0; i < CLI_N_CMDS; i++)
    if (strncmp (cli_commands[i].name, c->name, cmd_len) == 0
        && cli_commands[i].name[cmd_len] == ' ')
      {
        char left[64];
        snprintf (left, sizeof left, "  %s", cli_commands[i].name + cmd_len + 1);
        fprintf (f, "%s%-*s%s\n", i == (int) cmd + 1 ? "\nsubcommands:\n" : "", HELP_COLUMN - 2,
                 left, cli_commands[i].summary);
      }
  fputs ("\noptions:\n", f);
  for (size_t i = 0; i < cli_n_options; i++)
    {
      const struct cli_option *o = &cli_options[i];
      char left[128];
      int n;

      if (o->cmd != cmd)
        continue;
      if (o->short_name)
        n = snprintf (left, sizeof left, "  -%c, --%s%s%s", o->short_name, cli_opt_name (o->id),
                      o->value ? " " : "", o->value ? o->value : "");
      else
        n = snprintf (left, sizeof left, "  --%s%s%s", cli_opt_name (o->id), o->value ? " " : "",
                      o->value ? o->value : "");
      if (n + 1 >= HELP_COLUMN)
        fprintf (f, "%s\n%*s", left, HELP_COLUMN, "");
      else
        fprintf (f, "%-*s", HELP_COLUMN, left);
      put_lines (f, "", HELP_COLUMN, o->help);
    }
  fputc ('\n', f);
  put_lines (f, "exit status: ", 13, c->exit_status);
}

void
cli_usage_main (FILE *f)
{
  fputs ("usage: tactus-run COMMAND [ARGS]   (tactus-run FILE.tac: tactus-run run FILE.tac)\n"
         "\n"
         "Run Tactus procedures in a sandbox.\n"
         "\n"
         "commands:\n",
         f);
  for (int i = 0; i < CLI_N_CMDS; i++)
    if (i != CLI_C_CLIENT)
      fprintf (f, "  %-*s%s\n", HELP_COLUMN - 2, cli_commands[i].name, cli_commands[i].summary);
  fputs ("\nRun 'tactus-run COMMAND --help' (or 'tactus-run help COMMAND') for its options;\n"
         "'man tactus-run' for all of them.\n",
         f);
}
