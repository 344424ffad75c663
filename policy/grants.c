#define _GNU_SOURCE
#include "policy/grants.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/strv.h"

/* KEY as data: printable ASCII kept, anything else as '?', bounded.  */
static void
safe_key (const char *key, char *out, size_t size)
{
  size_t i = 0;

  for (; key && *key && i + 4 < size; key++)
    out[i++] = (*key > 0x20 && *key < 0x7f) ? *key : '?';
  if (key && *key)
    out[i++] = '.', out[i++] = '.', out[i++] = '.';
  out[i] = '\0';
}

static int add (char ***grants, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static int
add (char ***grants, const char *fmt, ...)
{
  char buf[256];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  return strv_push (grants, buf);
}

static uint64_t
or_default (uint64_t v, uint64_t dflt)
{
  return v ? v : dflt;
}

static int
sandbox_grants (const struct ynode *s, const struct tr_config *l, const struct tr_config *b,
                char ***g)
{
  char k[80];
  int r = 0;

  for (const struct ynode *n = s->child; n && r == 0; n = n->next)
    {
      safe_key (n->key, k, sizeof k);
      if (strcmp (n->key, "enabled") == 0)
        r = l->sandbox_enabled ? 0 : add (g, "sandbox.enabled: false");
      else if (strcmp (n->key, "network") == 0)
        r = n->type == YNODE_SCALAR && strcmp (n->value, "none") == 0 ? 0
                                                                      : add (g, "sandbox.network");
      else if (strcmp (n->key, "mount_current_dir") == 0)
        r = l->workspace == CONFIG_WORKSPACE_RW && b->workspace != CONFIG_WORKSPACE_RW
                ? add (g, "sandbox.mount_current_dir: rw")
                : 0;
      else if (strcmp (n->key, "limits") == 0)
        {
          for (const struct ynode *x = n->child; x && r == 0; x = x->next)
            {
              bool raised;
              if (strcmp (x->key, "memory") == 0)
                raised = l->memory > or_default (b->memory, CONFIG_DEFAULT_MEMORY);
              else if (strcmp (x->key, "pids") == 0)
                raised = l->pids > or_default (b->pids, CONFIG_DEFAULT_PIDS);
              else if (strcmp (x->key, "cpus") == 0)
                raised = b->cpus > 0 && l->cpus > b->cpus; /* none set: unlimited */
              else
                raised = true;
              safe_key (x->key, k, sizeof k);
              if (raised)
                r = add (g, "sandbox.limits.%s raised", k);
            }
        }
      else if (strcmp (n->key, "timeout") == 0)
        r = b->timeout > 0 && l->timeout > b->timeout ? add (g, "sandbox.timeout raised") : 0;
      else if (strcmp (n->key, "jit") == 0)
        r = l->jit && !b->jit ? add (g, "sandbox.jit: true") : 0;
      else if (strcmp (n->key, "protected_paths") == 0)
        {
          /* Adding protected paths restricts; removing one is a grant
           * (the run could then write what the host trusts).  */
          const struct ynode *rm = n->type == YNODE_MAP ? ytree_get (n, "remove") : NULL;
          r = rm && (rm->type != YNODE_SEQ || rm->child) ? add (g, "sandbox.protected_paths.remove")
                                                         : 0;
        }
      else if (config_is_ignored_key (n->key))
        r = 0;
      else
        r = add (g, "sandbox.%s", k);
    }
  return r;
}

static int
policy_grants (const struct ynode *p, const struct tr_config *l, const struct tr_config *b,
               char ***g)
{
  const struct policy *lp = &l->policy, *bp = &b->policy;
  char k[80];
  int r = 0;

  for (const struct ynode *n = p->child; n && r == 0; n = n->next)
    {
      safe_key (n->key, k, sizeof k);
      if (strcmp (n->key, "tools") == 0)
        {
          char names[160] = "", t[80];
          for (size_t i = 0; i < lp->n_tools; i++)
            {
              size_t len = strlen (names);
              safe_key (lp->tools[i].name, t, sizeof t);
              if (len + strlen (t) + 8 >= sizeof names)
                {
                  snprintf (names + len, sizeof names - len, ", ...");
                  break;
                }
              snprintf (names + len, sizeof names - len, "%s%s", i ? ", " : "", t);
            }
          r = add (g, "policy.tools (%s)", names[0] ? names : "host tools");
        }
      /* Stages only narrow where a tool may run, unless the trusted
       * layers have stages a new list could add a tool to.  */
      else if (strcmp (n->key, "stages") == 0)
        r = bp->n_stages > 0 ? add (g, "policy.stages (adds to your stages)") : 0;
      else if (strcmp (n->key, "approve") == 0)
        r = lp->approve_default == 1 && bp->approve_default != 1 ? add (g, "policy.approve: all")
                                                                 : 0;
      /* A first models list narrows "any model"; after one, lists add up.  */
      else if (strcmp (n->key, "models") == 0)
        r = bp->models ? add (g, "policy.models (adds to your models)") : 0;
      else if (strcmp (n->key, "max_tokens") == 0)
        r = bp->max_tokens > 0 && lp->max_tokens > bp->max_tokens
                ? add (g, "policy.max_tokens raised")
                : 0;
      else
        r = add (g, "policy.%s", k);
    }
  return r;
}

int
config_grants (const struct ynode *tree, const struct tr_config *layer,
               const struct tr_config *base, char ***grants)
{
  char k[80];
  size_t before = strv_len (*grants);
  int r = 0;

  for (const struct ynode *n = tree->child; n && r == 0; n = n->next)
    {
      if (strcmp (n->key, "sandbox") == 0 && n->type == YNODE_MAP)
        r = sandbox_grants (n, layer, base, grants);
      else if (strcmp (n->key, "policy") == 0 && n->type == YNODE_MAP)
        r = policy_grants (n, layer, base, grants);
      /* The procedure names its models itself; policy.models bounds them.  */
      else if (strcmp (n->key, "default_model") == 0)
        r = 0;
      else
        {
          safe_key (n->key, k, sizeof k);
          r = add (grants, "%s", k);
        }
    }
  return r < 0 ? -1 : (int) (strv_len (*grants) - before);
}
