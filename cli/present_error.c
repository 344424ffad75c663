/* Errors for people (present.h): the message a module filled, escaped,
 * and the fix for its hint worded for the command the user ran (modules
 * below the CLI never name a flag: `run` has no --bind, `sandbox exec`
 * has no --approve).  */
#define _GNU_SOURCE
#include <string.h>

#include "cli/present.h"
#include "common/error.h"

static const char *command = "run";

void
present_set_command (const char *cmd)
{
  if (cmd)
    command = cmd;
}

const char *
present_hint (int hint)
{
  bool sandbox = strcmp (command, "sandbox") == 0;
  bool run = strcmp (command, "run") == 0 || strcmp (command, "serve") == 0;

  switch (hint)
    {
    case TR_HINT_PATH_NOT_BOUND:
      return sandbox
                 ? "host paths go into the cage with --bind SRC:DST or --ro-bind SRC:DST; their "
                   "sources must exist"
                 : "add what is needed to sandbox.volumes in the config";
    case TR_HINT_WORKSPACE_READONLY:
      return sandbox || run ? "give the workspace with --workspace-mode ro|overlay, or "
                              "sandbox.mount_current_dir: ro in the config"
                            : "set sandbox.mount_current_dir: ro in the config";
    case TR_HINT_IDMAP_WORKSPACE:
      return sandbox || run ? "--workspace-mode ro|off, or sandbox.mount_current_dir: ro|false "
                              "in the config"
                            : "sandbox.mount_current_dir: ro|false in the config";
    case TR_HINT_NOT_STORED:
      return "run it with --storage file first";
    case TR_HINT_SECCOMP_FORCE:
      return "tactus-run sandbox rebuild --force accepts them";
    default:
      return NULL;
    }
}

void
present_error (FILE *f, const char *what, const struct tr_error *err)
{
  const char *fix = present_hint (err->hint);

  fputs ("tactus-run: ", f);
  if (what)
    present_put (f, what, 4000, "  ", 0);
  present_put (f, err->msg[0] ? err->msg : "unknown error", sizeof err->msg, "  ", 0);
  if (fix)
    fprintf (f, "; %s", fix);
  fputc ('\n', f);
}
