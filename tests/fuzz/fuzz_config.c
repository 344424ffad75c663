/* Fuzz the config reader (policy/config.c config_load_text, through
 * policy/yaml_tree.c and libyaml): any YAML a sidecar NAME.tac.yml may hold.
 * The config is host-side input, but the sidecar travels with the
 * procedure, so it is as untrusted as the procedure.
 *
 * Invariants: either an error with a message, or a config whose values are
 * within the documented ranges; every string of the policy is
 * NUL-terminated and host tool names start with "host.".  The same text is
 * then merged over itself (the layering path, ytree_merge) and read again.
 *
 * What the layer grants (policy/grants.c: an untrusted sidecar must not
 * grant anything) is checked against the config it gave: host tools,
 * volumes, env, a disabled sandbox, a base URL or a storage path each show
 * as a grant, and every grant is printable text (key names are escaped).  */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strv.h"
#include "policy/config.h"
#include "policy/grants.h"
#include "policy/policy.h"
#include "policy/yaml_tree.h"

#define CHECK(cond)                                                                                \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          fprintf (stderr, "fuzz_config: invariant failed: %s (line %d)\n", #cond, __LINE__);      \
          abort ();                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

static void
check_config (const struct tr_config *c)
{
  CHECK (c->memory == 0 || c->memory >= (4u << 20));
  CHECK (c->cpus == 0 || (c->cpus >= 0.01 && c->cpus <= 1024));
  CHECK (c->timeout >= 0);
  for (size_t i = 0; i < c->policy.n_tools; i++)
    {
      const struct policy_tool *t = &c->policy.tools[i];
      CHECK (t->name != NULL
             && ((strncmp (t->name, "host.", 5) == 0 && t->name[5] != '\0')
                 || policy_is_mcp_name (t->name)));
      for (char **a = t->command; a && *a; a++)
        CHECK (strlen (*a) < (1u << 20));
      if (t->command)
        CHECK (t->command[0] != NULL && t->command[0][0] == '/');
      CHECK (t->timeout >= 0);
    }
  for (size_t i = 0; i < c->n_volumes; i++)
    CHECK (c->volumes[i].target == NULL || c->volumes[i].target[0] == '/');
  for (char **e = c->env; e && *e; e++)
    CHECK (strchr (*e, '=') != NULL);
}

static bool
has_grant (char **g, const char *prefix)
{
  for (; g && *g; g++)
    if (strncmp (*g, prefix, strlen (prefix)) == 0)
      return true;
  return false;
}

static void
check_grants (const char *data, size_t size, const struct tr_config *c)
{
  struct tr_config base;
  struct tr_error err;
  struct ynode *t = ytree_parse ("fuzz.tac.yml", data, size, &err);
  char **g = NULL;
  int n;

  CHECK (t != NULL);
  config_init (&base);
  n = config_grants (t, c, &base, &g);
  CHECK (n >= 0 && (size_t) n == strv_len (g));
  for (char **x = g; x && *x; x++)
    {
      CHECK (strlen (*x) < 256);
      for (const char *p = *x; *p; p++)
        CHECK (*p >= 0x20 && *p < 0x7f);
    }
  CHECK (c->policy.n_tools == 0 || has_grant (g, "policy.tools"));
  CHECK (c->n_volumes == 0 || has_grant (g, "sandbox.volumes"));
  CHECK (c->env == NULL || has_grant (g, "sandbox.env"));
  CHECK (c->sandbox_enabled || has_grant (g, "sandbox.enabled: false"));
  CHECK (c->openai_base_url == NULL || has_grant (g, "openai_base_url"));
  CHECK (c->storage_dir == NULL || has_grant (g, "storage_path"));
  CHECK (c->policy.approve_default != 1 || has_grant (g, "policy.approve: all"));
  CHECK (c->memory <= CONFIG_DEFAULT_MEMORY || has_grant (g, "sandbox.limits.memory"));
  strv_free (g);
  ytree_free (t);
  config_free (&base);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct tr_config c;
  struct tr_error err;
  struct ynode *t1, *t2;

  config_init (&c);
  tr_error_clear (&err);
  if (config_load_text (&c, "fuzz.tac.yml", (const char *) data, size, &err) == 0)
    {
      check_config (&c);
      check_grants ((const char *) data, size, &c);
    }
  else
    CHECK (err.msg[0] != '\0');
  config_free (&c);

  /* Layering: the document merged over itself.  */
  t1 = ytree_parse ("a.yml", (const char *) data, size, &err);
  t2 = t1 ? ytree_parse_secrets ("b.yml", (const char *) data, size, &err) : NULL;
  if (t1 && t2)
    {
      ytree_merge (t1, t2); /* consumes t2 */
      t2 = NULL;
    }
  ytree_free (t1);
  ytree_free (t2);
  return 0;
}
