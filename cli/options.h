/* The command line's one option table (cli/options.def), as C: the
 * commands, the long option names, and every command's options.
 *
 * cli/options_table.c (the data and --help; libc only, also linked into
 * tactus-run-client and tools/clidoc) and cli/options.c (parsing, with
 * getopt_long and "did you mean").  */
#ifndef TR_CLI_OPTIONS_H
#define TR_CLI_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum cli_cmd_id
{
#define CLI_CMD(id, ...) CLI_C_##id,
#include "cli/options.def"
  CLI_N_CMDS
};

/* Long option ids start past every char, so a short option's letter and
 * an id never collide in getopt_long's return value.  */
enum cli_opt_id
{
  CLI_O_FIRST_ = 255,
#define CLI_NAME(id, name) CLI_O_##id,
#include "cli/options.def"
  CLI_O_END_
};

/* Commands whose options end at the first operand (the program's own
 * arguments follow: sandbox exec).  */
#define CLI_STOP_AT_OPERAND 1u

struct cli_command
{
  const char *name;        /* "run", "sandbox exec" */
  unsigned flags;          /* CLI_STOP_AT_OPERAND */
  const char *synopsis;    /* one line per form, without "tactus-run " */
  const char *summary;     /* one line, for the command list */
  const char *description; /* lines */
  const char *exit_status; /* lines */
};

struct cli_option
{
  enum cli_cmd_id cmd;
  enum cli_opt_id id;
  char short_name;   /* 0: none */
  const char *value; /* the value's name, a|b|c for a fixed set; NULL: a flag */
  const char *help;  /* lines */
};

extern const struct cli_command cli_commands[CLI_N_CMDS];
extern const struct cli_option cli_options[];
extern const size_t cli_n_options;

/* The long name of ID ("param"), or NULL.  */
const char *cli_opt_name (enum cli_opt_id id);
/* The command named NAME ("sandbox exec"), or -1.  */
int cli_command_find (const char *name);
/* CMD's option spelled NAME (without "--"; LEN bytes of it), or NULL.  */
const struct cli_option *cli_option_find (enum cli_cmd_id cmd, const char *name, size_t len);
/* CMD's option with the short letter C, or NULL.  */
const struct cli_option *cli_option_short (enum cli_cmd_id cmd, int c);

/* The whole --help of CMD on F.  */
void cli_usage (enum cli_cmd_id cmd, FILE *f);
/* The "usage:" lines only.  */
void cli_usage_lines (enum cli_cmd_id cmd, FILE *f);
/* tactus-run's own help: every command with its summary.  */
void cli_usage_main (FILE *f);

/* ---- parsing (cli/options.c; tactus-run only) ---- */

#define CLI_MAX_OPTIONS 48

struct cli_parser
{
  enum cli_cmd_id cmd;
  int argc;
  char **argv;
  const char *arg; /* the current option's value */
  struct option longopts[CLI_MAX_OPTIONS + 1];
  char shortopts[64];
};

/* Ready P to parse ARGV (ARGV[0] is the command's name) for CMD: every
 * long option is checked first to be one of CMD's, written out in full
 * (getopt_long would take an abbreviation); an unknown one is refused with
 * the closest name.  -1 after printing why.  */
int cli_parse_begin (struct cli_parser *p, enum cli_cmd_id cmd, int argc, char **argv);
/* The next option's id (CLI_O_*; P->arg holds its value), 0 at the end of
 * the options (optind is the first operand), or -1 after printing why.
 * --help prints CMD's help on stdout and exits 0.  */
int cli_next (struct cli_parser *p);

/* "tactus-run CMD: " FMT "\n(see tactus-run CMD --help)" on stderr; 1.  */
int cli_usage_error (enum cli_cmd_id cmd, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* Commands that read their own arguments (trust): refuse unknown long
 * options as cli_parse_begin does, and answer --help / -h (exit 0).
 * -1 after printing why.  */
int cli_check_options (enum cli_cmd_id cmd, int argc, char **argv);

#endif
