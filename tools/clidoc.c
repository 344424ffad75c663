/* clidoc: what the option table (cli/options.def) says, for people and
 * shells.
 *
 *   clidoc man VERSION   the man page tactus-run(1), roff
 *   clidoc bash          bash completion for tactus-run and tactus-run-client
 *   clidoc zsh           zsh completion (#compdef) for both
 *   clidoc md            docs/cli.md
 *
 * Run at build time (Makefile): nothing here is written by hand twice.  */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cli/options.h"

static const char *
prog (enum cli_cmd_id c)
{
  return c == CLI_C_CLIENT ? "" : "tactus-run ";
}

/* A fixed set of values: a|b|c in lower case.  */
static bool
is_choice (const char *v)
{
  if (v == NULL || strchr (v, '|') == NULL)
    return false;
  for (const char *p = v; *p; p++)
    if (!(islower ((unsigned char) *p) || *p == '|'))
      return false;
  return true;
}

/* A value completed as a file name.  */
static bool
is_path (const char *v)
{
  return v
         && (strcmp (v, "FILE") == 0 || strcmp (v, "DIR") == 0 || strcmp (v, "PATH") == 0
             || strcmp (v, "OUT") == 0);
}

/* ---- man ---- */

/* TEXT as roff: backslashes and dashes escaped, no line starting with a
 * control character; each \n of TEXT a line break when BREAKS.  */
static void
roff (const char *text, bool breaks)
{
  bool bol = true;

  for (const char *p = text; *p; p++)
    {
      if (bol && (*p == '.' || *p == '\''))
        fputs ("\\&", stdout);
      bol = false;
      switch (*p)
        {
        case '\\':
          fputs ("\\e", stdout);
          break;
        case '-':
          fputs ("\\-", stdout);
          break;
        case '\n':
          fputs (breaks ? "\n.br\n" : "\n", stdout);
          bol = true;
          break;
        default:
          putchar (*p);
        }
    }
  putchar ('\n');
}

static void
man_options (enum cli_cmd_id c)
{
  for (size_t i = 0; i < cli_n_options; i++)
    {
      const struct cli_option *o = &cli_options[i];
      if (o->cmd != c)
        continue;
      fputs (".TP\n", stdout);
      if (o->short_name)
        printf ("\\fB\\-%c\\fR, ", o->short_name);
      fputs ("\\fB\\-\\-", stdout);
      for (const char *p = cli_opt_name (o->id); *p; p++)
        fputs (*p == '-' ? "\\-" : (char[]){ *p, 0 }, stdout);
      fputs ("\\fR", stdout);
      if (o->value)
        {
          fputs (" \\fI", stdout);
          for (const char *p = o->value; *p; p++)
            fputs (*p == '-' ? "\\-" : (char[]){ *p, 0 }, stdout);
          fputs ("\\fR", stdout);
        }
      putchar ('\n');
      roff (o->help, false);
    }
}

static void
man_command (enum cli_cmd_id c)
{
  const struct cli_command *cmd = &cli_commands[c];
  const char *p = cmd->synopsis;

  fputs (".SS ", stdout);
  roff (cmd->name, false);
  fputs (".nf\n", stdout);
  for (;;)
    {
      const char *nl = strchr (p, '\n');
      char line[256];
      snprintf (line, sizeof line, "%s%.*s", prog (c), nl ? (int) (nl - p) : (int) strlen (p), p);
      fputs ("\\fB", stdout);
      roff (line, false);
      if (nl == NULL)
        break;
      p = nl + 1;
    }
  fputs ("\\fR\n.fi\n.PP\n", stdout);
  roff (cmd->description, false);
  man_options (c);
  fputs (".PP\nExit status: ", stdout);
  roff (cmd->exit_status, false);
}

static int
emit_man (const char *version)
{
  printf (".\\\" Generated from cli/options.def by tools/clidoc.c; do not edit.\n"
          ".TH TACTUS\\-RUN 1 \"\" \"tactus-run %s\" \"User Commands\"\n"
          ".SH NAME\n"
          "tactus\\-run, tactus\\-run\\-client \\- run Tactus procedures in a sandbox\n"
          ".SH SYNOPSIS\n"
          ".B tactus\\-run\n"
          ".I COMMAND\n"
          "[\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n"
          ".br\n"
          ".B tactus\\-run\n"
          ".I FILE.tac\n"
          "[\\fIOPTIONS\\fR]\n"
          ".br\n"
          ".B tactus\\-run\\-client\n"
          "[\\fIOPTIONS\\fR] \\fIFILE.tac\\fR\n"
          ".SH DESCRIPTION\n"
          "tactus\\-run runs Tactus procedures (.tac files: Lua and the Tactus DSL) in a\n"
          "sandbox: the Lua VM runs in its own user, pid, mount, network, ipc and uts\n"
          "namespaces under seccomp, with an empty network namespace; a broker outside the\n"
          "cage does every privileged thing (models, tools, approvals, files, egress).\n"
          "Invoked as \\fBtactus\\-runc\\fR (a link to the same program) it speaks the runc\n"
          "command line, as an OCI runtime.\n"
          ".SH COMMANDS\n",
          version);
  for (int c = 0; c < CLI_N_CMDS; c++)
    if (c != CLI_C_CLIENT)
      man_command ((enum cli_cmd_id) c);
  fputs (".SH TACTUS-RUN-CLIENT\n", stdout);
  man_command (CLI_C_CLIENT);
  fputs (".SH ENVIRONMENT\n"
         ".TP\n.B XDG_STATE_HOME\n"
         "where the trust store, checkpoints and traces are kept (tactus\\-run/).\n"
         ".TP\n.B XDG_RUNTIME_DIR\n"
         "where the warm pool's socket is (tactus\\-run/pool.sock).\n"
         ".SH SEE ALSO\n"
         "\\fBtactus\\-runc\\fR is this program under its OCI runtime name;\n"
         "docs/cli.md, docs/dsl.md and docs/config.md in the source tree.\n",
         stdout);
  return 0;
}

/* ---- bash ---- */

static void
words_of (enum cli_cmd_id c, FILE *f)
{
  bool first = true;

  for (size_t i = 0; i < cli_n_options; i++)
    if (cli_options[i].cmd == c)
      {
        if (cli_options[i].short_name)
          fprintf (f, "%s-%c", first ? "" : " ", cli_options[i].short_name);
        fprintf (f, "%s--%s", first && !cli_options[i].short_name ? "" : " ",
                 cli_opt_name (cli_options[i].id));
        first = false;
      }
}

/* The case arms completing the value of the option in $prev.  */
static void
bash_values (enum cli_cmd_id c)
{
  for (size_t i = 0; i < cli_n_options; i++)
    {
      const struct cli_option *o = &cli_options[i];
      if (o->cmd != c || o->value == NULL)
        continue;
      printf ("        --%s) ", cli_opt_name (o->id));
      if (is_choice (o->value))
        {
          fputs ("COMPREPLY=($(compgen -W \"", stdout);
          for (const char *p = o->value; *p; p++)
            putchar (*p == '|' ? ' ' : *p);
          fputs ("\" -- \"$cur\"))", stdout);
        }
      else if (is_path (o->value))
        fputs ("COMPREPLY=($(compgen -f -- \"$cur\"))", stdout);
      else
        fputs ("COMPREPLY=()", stdout);
      fputs ("; return ;;\n", stdout);
    }
}

static void
bash_function (const char *fn, bool client)
{
  printf ("%s ()\n{\n"
          "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"\" cmd=\"\"\n"
          "  [ \"$COMP_CWORD\" -gt 0 ] && prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n",
          fn);
  if (client)
    fputs ("  cmd=tactus-run-client\n", stdout);
  else
    fputs ("  if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
           "    COMPREPLY=($(compgen -W \"$_tactus_run_commands --help --version\" -- \"$cur\")"
           " $(compgen -f -X '!*.tac' -- \"$cur\"))\n"
           "    return\n"
           "  fi\n"
           "  cmd=\"${COMP_WORDS[1]}\"\n"
           "  if [ \"$cmd\" = sandbox ] || [ \"$cmd\" = help ] && [ \"$COMP_CWORD\" -eq 2 ]; then\n"
           "    if [ \"$cmd\" = sandbox ]; then\n"
           "      COMPREPLY=($(compgen -W \"status rebuild exec --help\" -- \"$cur\"))\n"
           "    else\n"
           "      COMPREPLY=($(compgen -W \"$_tactus_run_commands\" -- \"$cur\"))\n"
           "    fi\n"
           "    return\n"
           "  fi\n"
           "  [ \"$cmd\" = sandbox ] && cmd=\"sandbox ${COMP_WORDS[2]}\"\n"
           "  case \"$cmd\" in *.tac) cmd=run ;; esac\n",
           stdout);
  fputs ("  local opts=\"\"\n  case \"$cmd\" in\n", stdout);
  for (int c = 0; c < CLI_N_CMDS; c++)
    {
      if ((c == CLI_C_CLIENT) != client)
        continue;
      printf ("    \"%s\")\n      case \"$prev\" in\n", cli_commands[c].name);
      bash_values ((enum cli_cmd_id) c);
      fputs ("      esac\n      opts=\"", stdout);
      words_of ((enum cli_cmd_id) c, stdout);
      fputs ("\" ;;\n", stdout);
    }
  fputs ("  esac\n"
         "  if [[ \"$cur\" == -* ]]; then\n"
         "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
         "  else\n"
         "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
         "  fi\n"
         "}\n",
         stdout);
}

static int
emit_bash (void)
{
  fputs ("# bash completion for tactus-run and tactus-run-client.\n"
         "# Generated from cli/options.def by tools/clidoc.c; do not edit.\n\n"
         "_tactus_run_commands=\"",
         stdout);
  for (int c = 0, n = 0; c < CLI_N_CMDS; c++)
    if (c != CLI_C_CLIENT && strchr (cli_commands[c].name, ' ') == NULL)
      printf ("%s%s", n++ ? " " : "", cli_commands[c].name);
  fputs ("\"\n\n", stdout);
  bash_function ("_tactus_run", false);
  putchar ('\n');
  bash_function ("_tactus_run_client", true);
  fputs ("\ncomplete -o filenames -F _tactus_run tactus-run\n"
         "complete -o filenames -F _tactus_run_client tactus-run-client\n",
         stdout);
  return 0;
}

/* ---- zsh ---- */

/* TEXT's first line inside a '...' spec: quotes and brackets escaped,
 * colons too where they would end a field (COLONS).  */
static void
zsh_text (const char *text, bool colons)
{
  for (const char *p = text; *p && *p != '\n'; p++)
    switch (*p)
      {
      case '\'':
        fputs ("'\\''", stdout);
        break;
      case ':':
        fputs (colons ? "\\:" : ":", stdout);
        break;
      case '[':
      case ']':
      case '\\':
        printf ("\\%c", *p);
        break;
      default:
        putchar (*p);
      }
}

static void
zsh_specs (enum cli_cmd_id c)
{
  for (size_t i = 0; i < cli_n_options; i++)
    {
      const struct cli_option *o = &cli_options[i];
      if (o->cmd != c)
        continue;
      fputs ("      ", stdout);
      if (o->short_name)
        printf ("'(-%c --%s)'{-%c,--%s}'[", o->short_name, cli_opt_name (o->id), o->short_name,
                cli_opt_name (o->id));
      else
        printf ("'%s--%s[", o->value ? "*" : "", cli_opt_name (o->id));
      zsh_text (o->help, false);
      putchar (']');
      if (o->value)
        {
          putchar (':');
          zsh_text (o->value, true);
          putchar (':');
          if (is_choice (o->value))
            {
              putchar ('(');
              for (const char *p = o->value; *p; p++)
                putchar (*p == '|' ? ' ' : *p);
              putchar (')');
            }
          else if (is_path (o->value))
            fputs ("_files", stdout);
          else
            putchar (' ');
        }
      fputs ("' \\\n", stdout);
    }
}

static int
emit_zsh (void)
{
  fputs ("#compdef tactus-run tactus-run-client\n"
         "# zsh completion for tactus-run and tactus-run-client.\n"
         "# Generated from cli/options.def by tools/clidoc.c; do not edit.\n\n"
         "_tactus_run () {\n"
         "  local cmd\n"
         "  local -a cmds subs\n"
         "  if [[ $service == tactus-run-client ]]; then\n"
         "    _arguments -s : \\\n",
         stdout);
  zsh_specs (CLI_C_CLIENT);
  fputs ("      '*:procedure:_files -g \"*.tac\"'\n"
         "    return\n"
         "  fi\n"
         "  cmds=(\n",
         stdout);
  for (int c = 0; c < CLI_N_CMDS; c++)
    if (c != CLI_C_CLIENT && strchr (cli_commands[c].name, ' ') == NULL)
      {
        printf ("    '%s:", cli_commands[c].name);
        zsh_text (cli_commands[c].summary, false);
        fputs ("'\n", stdout);
      }
  fputs ("  )\n  subs=(\n", stdout);
  for (int c = 0; c < CLI_N_CMDS; c++)
    if (strncmp (cli_commands[c].name, "sandbox ", 8) == 0)
      {
        printf ("    '%s:", cli_commands[c].name + 8);
        zsh_text (cli_commands[c].summary, false);
        fputs ("'\n", stdout);
      }
  fputs ("  )\n"
         "  if (( CURRENT == 2 )); then\n"
         "    _describe command cmds\n"
         "    _files -g '*.tac'\n"
         "    return\n"
         "  fi\n"
         "  cmd=$words[2]\n"
         "  [[ $cmd == *.tac ]] && cmd=run\n"
         "  if [[ $cmd == sandbox ]]; then\n"
         "    if (( CURRENT == 3 )); then\n"
         "      _describe subcommand subs\n"
         "      return\n"
         "    fi\n"
         "    cmd=\"sandbox $words[3]\"\n"
         "    shift words\n"
         "    (( CURRENT-- ))\n"
         "  fi\n"
         "  shift words\n"
         "  (( CURRENT-- ))\n"
         "  case $cmd in\n",
         stdout);
  for (int c = 0; c < CLI_N_CMDS; c++)
    {
      if (c == CLI_C_CLIENT)
        continue;
      printf ("    '%s')\n      _arguments -s : \\\n", cli_commands[c].name);
      zsh_specs ((enum cli_cmd_id) c);
      fputs ("      '*:file:_files'\n      ;;\n", stdout);
    }
  fputs ("  esac\n}\n\n_tactus_run \"$@\"\n", stdout);
  return 0;
}

/* ---- markdown ---- */

/* TEXT in a table cell: | escaped, lines joined.  */
static void
md_cell (const char *text)
{
  for (const char *p = text; *p; p++)
    if (*p == '|')
      fputs ("\\|", stdout);
    else if (*p == '\n')
      putchar (' ');
    else
      putchar (*p);
}

static void
md_command (enum cli_cmd_id c)
{
  const struct cli_command *cmd = &cli_commands[c];
  const char *p = cmd->synopsis;
  bool any = false;

  printf ("## %s%s\n\n```\n", prog (c), cmd->name);
  for (;;)
    {
      const char *nl = strchr (p, '\n');
      printf ("%s%.*s\n", prog (c), nl ? (int) (nl - p) : (int) strlen (p), p);
      if (nl == NULL)
        break;
      p = nl + 1;
    }
  fputs ("```\n\n", stdout);
  for (p = cmd->description; *p; p++)
    putchar (*p == '\n' ? ' ' : *p);
  fputs ("\n\n", stdout);
  for (size_t i = 0; i < cli_n_options; i++)
    {
      const struct cli_option *o = &cli_options[i];
      if (o->cmd != c)
        continue;
      if (!any)
        fputs ("| option | |\n|---|---|\n", stdout);
      any = true;
      fputs ("| `", stdout);
      if (o->short_name)
        printf ("-%c`, `", o->short_name);
      printf ("--%s", cli_opt_name (o->id));
      if (o->value)
        {
          putchar (' ');
          md_cell (o->value);
        }
      fputs ("` | ", stdout);
      md_cell (o->help);
      fputs (" |\n", stdout);
    }
  fputs ("\nExit status: ", stdout);
  for (p = cmd->exit_status; *p; p++)
    putchar (*p == '\n' ? ' ' : *p);
  fputs ("\n\n", stdout);
}

static int
emit_md (void)
{
  fputs ("# Command line reference\n\n"
         "<!-- Generated from cli/options.def by tools/clidoc.c (make docs); do not edit. -->\n\n"
         "Every command answers `--help` (or `tactus-run help COMMAND`); `man tactus-run` has\n"
         "the same text.  Long options are taken only as written (no abbreviations); an unknown\n"
         "one is an error that names the closest.  `tactus-run FILE.tac` is short for\n"
         "`tactus-run run FILE.tac`.\n\n"
         "| command | |\n|---|---|\n",
         stdout);
  for (int c = 0; c < CLI_N_CMDS; c++)
    {
      printf ("| `%s` | ", c == CLI_C_CLIENT ? "tactus-run-client" : cli_commands[c].name);
      md_cell (cli_commands[c].summary);
      fputs (" |\n", stdout);
    }
  putchar ('\n');
  for (int c = 0; c < CLI_N_CMDS; c++)
    md_command ((enum cli_cmd_id) c);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc == 3 && strcmp (argv[1], "man") == 0)
    return emit_man (argv[2]);
  if (argc == 2 && strcmp (argv[1], "bash") == 0)
    return emit_bash ();
  if (argc == 2 && strcmp (argv[1], "zsh") == 0)
    return emit_zsh ();
  if (argc == 2 && strcmp (argv[1], "md") == 0)
    return emit_md ();
  fputs ("usage: clidoc man VERSION | bash | zsh | md\n", stderr);
  return 1;
}
