/* The run's policy: which host tools the broker may run, in which stages,
 * which need a human's approval, models allowed.  Filled from config by
 * policy/config.c; enforced only by the broker, never by the VM.  */
#ifndef TR_POLICY_H
#define TR_POLICY_H

#include <stdbool.h>
#include <stddef.h>

struct policy_tool
{
  char *name;     /* host.<name>, mcp.<server>.<tool> or mcp.<server>.* */
  char **command; /* argv of a host command, NULL for a built-in tool */
  double timeout; /* seconds, for commands */
  bool approval;  /* needs a human's approval for each call */
  /* What a command tool gets in its environment besides PATH, HOME, TZ,
   * LANG and LC_*: "NAME" (the host's value, when set) or "NAME=VALUE"
   * (${VAR} in VALUE is the host's VAR).  Nothing else of the broker's
   * environment reaches a tool: provider keys only when named here.  */
  char **env;
};

struct policy_stage
{
  char *name;
  char **tools; /* NULL-terminated */
};

struct policy
{
  struct policy_tool *tools;
  size_t n_tools;
  struct policy_stage *stages;
  size_t n_stages;
  int approve_default; /* enum broker_approve, from policy.approve; -1 unset */
  char **models;       /* allowlisted models, NULL: any */
  long max_tokens;     /* per run, 0: unlimited */
};

/* The entry for tool NAME: exact, or for an MCP tool mcp.SERVER.TOOL the
 * entry mcp.SERVER.* when there is no exact one.  */
const struct policy_tool *policy_find_tool (const struct policy *p, const char *name);
/* mcp.SERVER.TOOL or mcp.SERVER.*  */
bool policy_is_mcp_name (const char *name);
const struct policy_stage *policy_find_stage (const struct policy *p, const char *name);
bool policy_stage_allows (const struct policy_stage *s, const char *tool);
void policy_free (struct policy *p);

#endif
