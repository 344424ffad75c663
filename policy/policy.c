#include <stdlib.h>
#include <string.h>

#include "common/strv.h"
#include "policy/policy.h"

bool
policy_is_mcp_name (const char *name)
{
  const char *server = name + 4, *dot;

  if (strncmp (name, "mcp.", 4) != 0 || (dot = strchr (server, '.')) == NULL || dot == server
      || dot[1] == '\0')
    return false;
  return true;
}

/* TOOL matches ENTRY: the same, or ENTRY is mcp.SERVER.* and TOOL is one
 * of SERVER's.  */
static bool
entry_matches (const char *entry, const char *tool)
{
  size_t n = strlen (entry);

  if (strcmp (entry, tool) == 0)
    return true;
  return n > 6 && strncmp (entry, "mcp.", 4) == 0 && strcmp (entry + n - 2, ".*") == 0
         && strncmp (entry, tool, n - 1) == 0 && tool[n - 1] != '\0'
         && strchr (tool + n - 1, '.') == NULL;
}

const struct policy_tool *
policy_find_tool (const struct policy *p, const char *name)
{
  for (size_t i = 0; p && i < p->n_tools; i++)
    if (strcmp (p->tools[i].name, name) == 0)
      return &p->tools[i];
  for (size_t i = 0; p && i < p->n_tools; i++)
    if (entry_matches (p->tools[i].name, name))
      return &p->tools[i];
  return NULL;
}

const struct policy_stage *
policy_find_stage (const struct policy *p, const char *name)
{
  for (size_t i = 0; p && i < p->n_stages; i++)
    if (strcmp (p->stages[i].name, name) == 0)
      return &p->stages[i];
  return NULL;
}

bool
policy_stage_allows (const struct policy_stage *s, const char *tool)
{
  for (char **t = s->tools; t && *t; t++)
    if (entry_matches (*t, tool))
      return true;
  return false;
}

void
policy_free (struct policy *p)
{
  for (size_t i = 0; i < p->n_tools; i++)
    {
      free (p->tools[i].name);
      strv_free (p->tools[i].command);
      strv_free (p->tools[i].env);
    }
  free (p->tools);
  for (size_t i = 0; i < p->n_stages; i++)
    {
      free (p->stages[i].name);
      strv_free (p->stages[i].tools);
    }
  free (p->stages);
  strv_free (p->models);
  memset (p, 0, sizeof *p);
}
