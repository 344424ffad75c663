#define _GNU_SOURCE
#include "common/protected.h"

#include <fnmatch.h>
#include <string.h>

/* What the host trusts or runs later, by the program that does:
 *   git      .git (a directory, or a file "gitdir: ..."; its config can
 *            name commands: core.fsmonitor, core.pager, aliases, hooks),
 *            .gitmodules (submodule URLs and update commands),
 *            .gitconfig (read by git when the workspace is $HOME),
 *            .lfsconfig (git-lfs: where credentials are sent)
 *   other VCS .hg (hgrc hooks), .svn, .bzr, .jj
 *   tactus   .tactus (config, storage), *.tac.yml (a procedure's sidecar:
 *            its grants)
 *   shells   rc and profile files, read when the workspace is $HOME
 *   tools    .envrc (direnv), .vscode and .idea (tasks, launch
 *            configurations, extension settings), .mcp.json (MCP servers
 *            an agent starts), .pre-commit-config.yaml (hooks run on the
 *            next commit)  */
const char *const protected_defaults[] = {
  ".git",    ".gitmodules",   ".gitconfig",  ".lfsconfig",   ".hg",
  ".svn",    ".bzr",          ".jj",         ".tactus",      "*.tac.yml",
  ".envrc",  ".vscode",       ".idea",       ".mcp.json",    ".pre-commit-config.yaml",
  ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile",
  ".zshrc",  ".zshenv",       ".zprofile",   ".zlogin",      ".zlogout",
  ".kshrc",  ".mkshrc",       ".cshrc",      ".tcshrc",      ".login",
  ".logout", ".inputrc",      NULL,
};

bool
protected_name (const char *const *list, const char *name, size_t len, const char **entry)
{
  char comp[256];

  if (list == NULL)
    return false;
  /* "NAME.", "NAME " and "NAME. ." are NAME on some filesystems.  */
  while (len > 0 && (name[len - 1] == '.' || name[len - 1] == ' '))
    len--;
  if (len == 0 || len >= sizeof comp)
    return false;
  memcpy (comp, name, len);
  comp[len] = '\0';
  for (const char *const *p = list; *p; p++)
    if (fnmatch (*p, comp, FNM_CASEFOLD) == 0)
      {
        if (entry)
          *entry = *p;
        return true;
      }
  return false;
}

const char *
protected_component (const char *const *list, const char *path, size_t *len, const char **entry)
{
  const char *p = path;

  while (*p)
    {
      size_t n = strcspn (p, "/");
      if (protected_name (list, p, n, entry))
        {
          *len = n;
          return p;
        }
      p += n;
      while (*p == '/')
        p++;
    }
  return NULL;
}

const char *
protected_entry_invalid (const char *pattern)
{
  if (pattern[0] == '\0')
    return "an entry cannot be empty";
  if (strchr (pattern, '/'))
    return "an entry is one name (it protects that name in every directory), without '/'";
  if (strcmp (pattern, ".") == 0 || strcmp (pattern, "..") == 0)
    return "'.' and '..' are not names";
  if (strlen (pattern) > 255)
    return "an entry is at most 255 bytes";
  return NULL;
}
