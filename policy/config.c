/* Reading the layered YAML config into struct tr_config.  */
#define _GNU_SOURCE
#include "policy/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "common/cleanup.h"
#include "common/protected.h"
#include "common/strv.h"
#include "common/suggest.h"
#include "policy/yaml_tree.h"

#define MAX_CONFIG_SIZE (1 << 20)

/* Keys Tactus's Docker sandbox uses that mean nothing here.  */
static const char *const docker_only_keys[]
    = { "image",       "dev_mode",         "broker_transport", "broker_host",
        "broker_port", "mcp_servers_path", "rebuild",          NULL };

void
config_init (struct tr_config *c)
{
  memset (c, 0, sizeof *c);
  c->sandbox_enabled = true;
  c->jit = true;
  c->policy.approve_default = -1;
}

void
config_free (struct tr_config *c)
{
  for (size_t i = 0; i < c->n_volumes; i++)
    {
      free (c->volumes[i].source);
      free (c->volumes[i].target);
    }
  free (c->volumes);
  strv_free (c->env);
  free (c->storage_dir);
  free (c->openai_base_url);
  free (c->default_model);
  strv_free (c->protected_paths);
  for (size_t i = 0; i < c->n_providers; i++)
    {
      free (c->providers[i].name);
      free (c->providers[i].base_url);
      free (c->providers[i].api);
      free (c->providers[i].region);
      free (c->providers[i].api_key_env);
    }
  free (c->providers);
  free (c->aws_region);
  free (c->aws_profile);
  free (c->model_prices);
  egress_rules_free (&c->egress);
  for (size_t i = 0; i < c->n_mcp; i++)
    {
      struct config_mcp_server *m = &c->mcp[i];
      free (m->name);
      free (m->command);
      strv_free (m->args);
      free (m->cwd);
      for (size_t j = 0; j < m->n_volumes; j++)
        {
          free (m->volumes[j].source);
          free (m->volumes[j].target);
        }
      free (m->volumes);
    }
  free (c->mcp);
  policy_free (&c->policy);
  strv_free (c->files);
  memset (c, 0, sizeof *c);
}

bool
config_is_secret_env (const char *name)
{
  static const char *const names[]
      = { "OPENAI_API_KEY",    "GOOGLE_API_KEY",       "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
          "AWS_SESSION_TOKEN", "AZURE_OPENAI_API_KEY", "ANTHROPIC_API_KEY", NULL };
  for (const char *const *n = names; *n; n++)
    if (strcmp (*n, name) == 0)
      return true;
  return ytree_is_secret_key (name);
}

static int bad (struct tr_error *err, const struct ynode *n, const char *path, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static int
bad (struct tr_error *err, const struct ynode *n, const char *path, const char *fmt, ...)
{
  char why[600];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (why, sizeof why, fmt, ap);
  va_end (ap);
  return tr_fail (err, 0, "%s:%d: %s: %s", n->file, n->line, path, why);
}

/* "unknown key 'K' (a, b, c); did you mean 'b'?" -- every map of the config
 * refuses what it does not know: a typo'd key silently ignored is a setting
 * the user believes in and does not have.  OWNER, when set, names the
 * entry the map belongs to ("'fs': unknown key ...").  */
static int
unknown_key (struct tr_error *err, const struct ynode *n, const char *path, const char *owner,
             const char *const *known)
{
  char list[400] = "", key[80], who[80];
  const char *guess;
  size_t nk = 0, len = 0, i = 0;

  /* The key is data from a file a run may have written: printable ASCII
   * only before a terminal sees it (as policy/grants.c shows keys).  */
  for (const char *k = n->key; *k && i + 4 < sizeof key; k++)
    key[i++] = (*k > 0x20 && *k < 0x7f) ? *k : '?';
  if (n->key[i] != '\0' && i + 4 >= sizeof key)
    key[i++] = '.', key[i++] = '.', key[i++] = '.';
  key[i] = '\0';
  i = 0;
  for (const char *k = owner ? owner : ""; *k && i + 1 < sizeof who; k++)
    who[i++] = (*k > 0x20 && *k < 0x7f) ? *k : '?';
  who[i] = '\0';

  for (; known[nk]; nk++)
    if (len + strlen (known[nk]) + 3 < sizeof list)
      len += (size_t) snprintf (list + len, sizeof list - len, "%s%s", nk ? ", " : "", known[nk]);
  guess = tr_suggest (n->key, known, nk);
  return tr_fail (err, 0, "%s:%d: %s: %s%s%sunknown key '%s' (%s)%s%s%s", n->file,
                  n->key_line ? n->key_line : n->line, path, owner ? "'" : "", who,
                  owner ? "': " : "", key, list, guess ? "; did you mean '" : "",
                  guess ? guess : "", guess ? "'?" : "");
}

static int
want_scalar (const struct ynode *n, const char *path, struct tr_error *err)
{
  if (n->type != YNODE_SCALAR)
    return bad (err, n, path, "expected a single value, not a %s",
                n->type == YNODE_MAP ? "map" : "list");
  return 0;
}

static int
get_bool (const struct ynode *n, const char *path, bool *out, struct tr_error *err)
{
  if (want_scalar (n, path, err) < 0)
    return -1;
  if (!n->quoted
      && (strcasecmp (n->value, "true") == 0 || strcasecmp (n->value, "yes") == 0
          || strcasecmp (n->value, "on") == 0))
    *out = true;
  else if (!n->quoted
           && (strcasecmp (n->value, "false") == 0 || strcasecmp (n->value, "no") == 0
               || strcasecmp (n->value, "off") == 0))
    *out = false;
  else
    return bad (err, n, path, "'%s' is not a boolean (use true or false)", n->value);
  return 0;
}

static int
get_number (const struct ynode *n, const char *path, double min, double max, double *out,
            struct tr_error *err)
{
  char *end;
  double v;

  if (want_scalar (n, path, err) < 0)
    return -1;
  errno = 0;
  v = strtod (n->value, &end);
  if (end == n->value || *end || errno || !isfinite (v))
    return bad (err, n, path, "'%s' is not a number", n->value);
  if (v < min || v > max)
    return bad (err, n, path, "%g is out of range (%g to %g)", v, min, max);
  *out = v;
  return 0;
}

/* "512m", "2g", "1048576", "64MiB" */
static int
get_size (const struct ynode *n, const char *path, uint64_t *out, struct tr_error *err)
{
  char *end;
  double v;
  double mult = 1;

  if (want_scalar (n, path, err) < 0)
    return -1;
  v = strtod (n->value, &end);
  if (end == n->value || v < 0)
    return bad (err, n, path, "'%s' is not a size (use 512m, 2g or a number of bytes)", n->value);
  switch (*end)
    {
    case 'k':
    case 'K':
      mult = 1024;
      end++;
      break;
    case 'm':
    case 'M':
      mult = 1024.0 * 1024;
      end++;
      break;
    case 'g':
    case 'G':
      mult = 1024.0 * 1024 * 1024;
      end++;
      break;
    default:
      break;
    }
  if (strcasecmp (end, "ib") == 0 || strcasecmp (end, "b") == 0)
    end += strlen (end);
  if (*end || v * mult > 1e15)
    return bad (err, n, path, "'%s' is not a size (use 512m, 2g or a number of bytes)", n->value);
  *out = (uint64_t) (v * mult);
  return 0;
}

/* "30", "30s", "5m", "1h" */
static int
get_duration (const struct ynode *n, const char *path, double *out, struct tr_error *err)
{
  char *end;
  double v;

  if (want_scalar (n, path, err) < 0)
    return -1;
  v = strtod (n->value, &end);
  if (end == n->value || v < 0 || !isfinite (v))
    return bad (err, n, path, "'%s' is not a duration (use 30, 30s, 5m or 1h)", n->value);
  if (strcmp (end, "m") == 0)
    v *= 60;
  else if (strcmp (end, "h") == 0)
    v *= 3600;
  else if (*end && strcmp (end, "s") != 0)
    return bad (err, n, path, "'%s' is not a duration (use 30, 30s, 5m or 1h)", n->value);
  *out = v;
  return 0;
}

static int
get_string (const struct ynode *n, const char *path, char **out, struct tr_error *err)
{
  if (want_scalar (n, path, err) < 0)
    return -1;
  free (*out);
  *out = strdup (n->value);
  return *out ? 0 : tr_fail (err, ENOMEM, "config");
}

static int
get_strv (const struct ynode *n, const char *path, char ***out, struct tr_error *err)
{
  if (n->type == YNODE_SCALAR)
    return strv_push (out, n->value) < 0 ? tr_fail (err, ENOMEM, "config") : 0;
  if (n->type != YNODE_SEQ)
    return bad (err, n, path, "expected a list of strings");
  for (const struct ynode *c = n->child; c; c = c->next)
    {
      if (c->type != YNODE_SCALAR)
        return bad (err, c, path, "expected a list of strings");
      if (strv_push (out, c->value) < 0)
        return tr_fail (err, ENOMEM, "config");
    }
  return 0;
}

bool
config_is_ignored_key (const char *key)
{
  for (const char *const *k = docker_only_keys; *k; k++)
    if (strcmp (*k, key) == 0)
      return true;
  return false;
}

/* "src:dst[:ro|rw]"; SRC relative to the config file's directory.  */
static int
add_volume (struct tr_config *c, const struct ynode *n, struct tr_error *err)
{
  cleanup_free char *spec = NULL;
  char *src, *dst, *mode, *save = NULL;
  struct config_volume *nv;
  bool writable = true;

  if (want_scalar (n, "sandbox.volumes", err) < 0)
    return -1;
  spec = strdup (n->value);
  src = spec ? strtok_r (spec, ":", &save) : NULL;
  dst = src ? strtok_r (NULL, ":", &save) : NULL;
  mode = dst ? strtok_r (NULL, ":", &save) : NULL;
  if (src == NULL || dst == NULL || dst[0] != '/' || strtok_r (NULL, ":", &save))
    return bad (err, n, "sandbox.volumes", "'%s' is not HOST_PATH:/ABSOLUTE/TARGET[:ro|rw]",
                n->value);
  if (mode && strcmp (mode, "ro") == 0)
    writable = false;
  else if (mode && strcmp (mode, "rw") != 0)
    return bad (err, n, "sandbox.volumes", "mode '%s' must be ro or rw", mode);
  if (strcmp (dst, "/workspace") == 0 || strncmp (dst, "/proc", 5) == 0
      || strncmp (dst, "/dev", 4) == 0)
    return bad (err, n, "sandbox.volumes", "target %s is reserved", dst);
  nv = realloc (c->volumes, (c->n_volumes + 1) * sizeof *nv);
  if (nv == NULL)
    return tr_fail (err, ENOMEM, "config");
  c->volumes = nv;
  nv[c->n_volumes].writable = writable;
  if (src[0] == '/' || strchr (n->file, '/') == NULL)
    nv[c->n_volumes].source = strdup (src);
  else
    {
      const char *slash = strrchr (n->file, '/');
      if (asprintf (&nv[c->n_volumes].source, "%.*s/%s", (int) (slash - n->file), n->file, src) < 0)
        nv[c->n_volumes].source = NULL;
    }
  nv[c->n_volumes].target = strdup (dst);
  c->n_volumes++;
  return 0;
}

static int
add_env (struct tr_config *c, const char *key, const char *value, const struct ynode *n,
         struct tr_error *err)
{
  char *kv;

  if (key[0] == '\0' || strchr (key, '='))
    return bad (err, n, "sandbox.env", "'%s' is not a variable name", key);
  if (config_is_secret_env (key))
    {
      if (c->quiet)
        return 0;
      fprintf (stderr,
               "tactus-run: warning: %s:%d: sandbox.env.%s is a provider secret and is "
               "never passed into the sandbox (the broker makes model calls)\n",
               n->file, n->line, key);
      return 0;
    }
  if (asprintf (&kv, "%s=%s", key, value) < 0)
    return tr_fail (err, ENOMEM, "config");
  if (strv_push (&c->env, kv) < 0)
    {
      free (kv);
      return tr_fail (err, ENOMEM, "config");
    }
  free (kv);
  return 0;
}

static int
read_env (struct tr_config *c, const struct ynode *n, struct tr_error *err)
{
  if (n->type == YNODE_MAP)
    {
      for (const struct ynode *e = n->child; e; e = e->next)
        {
          if (want_scalar (e, "sandbox.env", err) < 0 || add_env (c, e->key, e->value, e, err) < 0)
            return -1;
        }
      return 0;
    }
  if (n->type != YNODE_SEQ)
    return bad (err, n, "sandbox.env", "expected a map of NAME: value");
  for (const struct ynode *e = n->child; e; e = e->next)
    {
      cleanup_free char *copy = NULL;
      char *eq;
      if (want_scalar (e, "sandbox.env", err) < 0)
        return -1;
      copy = strdup (e->value);
      eq = copy ? strchr (copy, '=') : NULL;
      if (eq == NULL)
        return bad (err, e, "sandbox.env", "'%s' is not NAME=value", e->value);
      *eq = '\0';
      if (add_env (c, copy, eq + 1, e, err) < 0)
        return -1;
    }
  return 0;
}

static int
read_limits (struct tr_config *c, const struct ynode *n, struct tr_error *err)
{
  double v;

  if (n->type != YNODE_MAP)
    return bad (err, n, "sandbox.limits", "expected a map (memory:, cpus:, pids:)");
  for (const struct ynode *l = n->child; l; l = l->next)
    {
      if (strcmp (l->key, "memory") == 0)
        {
          if (get_size (l, "sandbox.limits.memory", &c->memory, err) < 0)
            return -1;
          if (c->memory < (4u << 20))
            return bad (err, l, "sandbox.limits.memory", "at least 4m is needed to start the VM");
        }
      else if (strcmp (l->key, "cpus") == 0)
        {
          if (get_number (l, "sandbox.limits.cpus", 0.01, 1024, &c->cpus, err) < 0)
            return -1;
        }
      else if (strcmp (l->key, "pids") == 0)
        {
          if (get_number (l, "sandbox.limits.pids", 1, 1 << 22, &v, err) < 0)
            return -1;
          c->pids = (uint64_t) v;
        }
      else
        {
          static const char *const known[] = { "memory", "cpus", "pids", NULL };
          return unknown_key (err, l, "sandbox.limits", NULL, known);
        }
    }
  return 0;
}

static int
read_workspace (struct tr_config *c, const struct ynode *n, struct tr_error *err)
{
  bool b;

  if (n->type == YNODE_SCALAR && !n->quoted
      && (strcmp (n->value, "ro") == 0 || strcmp (n->value, "rw") == 0
          || strcmp (n->value, "off") == 0 || strcmp (n->value, "overlay") == 0))
    {
      c->workspace = strcmp (n->value, "off") == 0       ? CONFIG_WORKSPACE_OFF
                     : strcmp (n->value, "ro") == 0      ? CONFIG_WORKSPACE_RO
                     : strcmp (n->value, "overlay") == 0 ? CONFIG_WORKSPACE_OVERLAY
                                                         : CONFIG_WORKSPACE_RW;
      return 0;
    }
  if (want_scalar (n, "sandbox.mount_current_dir", err) < 0)
    return -1;
  if (n->quoted || get_bool (n, "sandbox.mount_current_dir", &b, err) < 0)
    return bad (err, n, "sandbox.mount_current_dir",
                "'%s' is not valid (use true or rw to mount the current directory read-write, ro "
                "for read-only, overlay for writes that vanish with the run, false or off for "
                "none)",
                n->value);
  c->workspace = b ? CONFIG_WORKSPACE_RW : CONFIG_WORKSPACE_OFF;
  return 0;
}

static bool
strv_has (char *const *v, const char *s)
{
  for (; v && *v; v++)
    if (strcmp (*v, s) == 0)
      return true;
  return false;
}

/* One list of entries: each checked, added to the list or removed from
 * it.  Removing one weakens every later run: say so.  */
static int
protected_entries (struct tr_config *c, const struct ynode *n, bool add, struct tr_error *err)
{
  const char *what = add ? "sandbox.protected_paths" : "sandbox.protected_paths.remove";

  if (n->type != YNODE_SEQ && n->type != YNODE_SCALAR)
    return bad (err, n, what, "expected a list of names");
  for (const struct ynode *e = n->type == YNODE_SEQ ? n->child : n; e;
       e = n->type == YNODE_SEQ ? e->next : NULL)
    {
      const char *why;
      if (e->type != YNODE_SCALAR)
        return bad (err, e, what, "expected a list of names");
      why = protected_entry_invalid (e->value);
      if (why)
        return bad (err, e, what, "'%s': %s", e->value, why);
      if (add)
        {
          if (!strv_has (c->protected_paths, e->value)
              && strv_push (&c->protected_paths, e->value) < 0)
            return tr_fail (err, ENOMEM, "config");
          continue;
        }
      if (!strv_has (c->protected_paths, e->value))
        return bad (err, e, what,
                    "'%s' is not a protected path (the list: the built-in one in "
                    "docs/sandbox.md, and what sandbox.protected_paths adds)",
                    e->value);
      strv_remove (c->protected_paths, e->value);
      if (!c->quiet)
        fprintf (stderr,
                 "tactus-run: warning: %s:%d: sandbox.protected_paths: '%s' is no longer "
                 "protected: runs may write it (the host may then trust what they wrote)\n",
                 e->file, e->line, e->value);
    }
  return 0;
}

/* sandbox.network: none, or {allow: [HOST[:PORT]...], deny: [...]}
 * (policy/egress.h).  */
static int
read_network (struct tr_config *c, const struct ynode *n, struct tr_error *err)
{
  char why[400];

  if (n->type == YNODE_SCALAR)
    {
      if (strcmp (n->value, "none") == 0)
        return 0;
      return bad (err, n, "sandbox.network",
                  "'%s' is not supported: the sandbox has no network (none); list the endpoints "
                  "a native cage may reach in sandbox.network.allow (model calls go through the "
                  "broker)",
                  n->value);
    }
  if (n->type != YNODE_MAP)
    return bad (err, n, "sandbox.network", "expected none or a map (allow:, deny:)");
  for (const struct ynode *l = n->child; l; l = l->next)
    {
      bool deny = strcmp (l->key, "deny") == 0;
      static const char *const known[] = { "allow", "deny", NULL };
      if (!deny && strcmp (l->key, "allow") != 0)
        return unknown_key (err, l, "sandbox.network", NULL, known);
      if (l->type != YNODE_SEQ)
        return bad (err, l, deny ? "sandbox.network.deny" : "sandbox.network.allow",
                    "expected a list of HOST[:PORT] entries");
      for (const struct ynode *e = l->child; e; e = e->next)
        {
          if (e->type != YNODE_SCALAR)
            return bad (err, e, deny ? "sandbox.network.deny" : "sandbox.network.allow",
                        "expected HOST[:PORT]");
          if (egress_rules_add (&c->egress, deny, e->value, why, sizeof why) < 0)
            return bad (err, e, deny ? "sandbox.network.deny" : "sandbox.network.allow", "%s", why);
        }
    }
  return 0;
}

/* sandbox.protected_paths: a list of names to add, or a map of add: and
 * remove: lists.  */
static int
read_protected (struct tr_config *c, const struct ynode *n, struct tr_error *err)
{
  if (c->protected_paths == NULL)
    for (const char *const *p = protected_defaults; *p; p++)
      if (strv_push (&c->protected_paths, *p) < 0)
        return tr_fail (err, ENOMEM, "config");
  if (n->type != YNODE_MAP)
    return protected_entries (c, n, true, err);
  /* Additions first: a layer may add what another removes, not the
   * reverse by accident of order.  */
  for (int pass = 0; pass < 2; pass++)
    for (const struct ynode *k = n->child; k; k = k->next)
      {
        static const char *const known[] = { "add", "remove", NULL };
        if (strcmp (k->key, "add") != 0 && strcmp (k->key, "remove") != 0)
          return unknown_key (err, k, "sandbox.protected_paths", NULL, known);
        if ((pass == 0) == (strcmp (k->key, "add") == 0)
            && protected_entries (c, k, pass == 0, err) < 0)
          return -1;
      }
  return 0;
}

static int
read_sandbox (struct tr_config *c, const struct ynode *s, struct tr_error *err)
{
  if (s->type != YNODE_MAP)
    return bad (err, s, "sandbox", "expected a map");
  for (const struct ynode *n = s->child; n; n = n->next)
    {
      const char *k = n->key;
      int r = 0;
      if (strcmp (k, "enabled") == 0)
        r = get_bool (n, "sandbox.enabled", &c->sandbox_enabled, err);
      else if (strcmp (k, "network") == 0)
        r = read_network (c, n, err);
      else if (strcmp (k, "mount_current_dir") == 0)
        r = read_workspace (c, n, err);
      else if (strcmp (k, "volumes") == 0)
        {
          if (n->type != YNODE_SEQ)
            r = bad (err, n, "sandbox.volumes", "expected a list of HOST:TARGET[:ro]");
          for (const struct ynode *v = n->child; r == 0 && v; v = v->next)
            {
              r = add_volume (c, v, err);
              /* A procedure reaches files only through File.* paths in its
               * workspace: a target elsewhere would be accepted and never
               * seen.  */
              if (r == 0 && strncmp (c->volumes[c->n_volumes - 1].target, "/workspace/", 11) != 0)
                r = bad (err, v, "sandbox.volumes",
                         "target %s is outside /workspace, where a procedure's files are; "
                         "mount it at /workspace/NAME and read it as NAME",
                         c->volumes[c->n_volumes - 1].target);
            }
        }
      else if (strcmp (k, "env") == 0)
        r = read_env (c, n, err);
      else if (strcmp (k, "limits") == 0)
        r = read_limits (c, n, err);
      else if (strcmp (k, "timeout") == 0)
        r = get_duration (n, "sandbox.timeout", &c->timeout, err);
      else if (strcmp (k, "jit") == 0)
        r = get_bool (n, "sandbox.jit", &c->jit, err);
      else if (strcmp (k, "protected_paths") == 0)
        r = read_protected (c, n, err);
      else if (config_is_ignored_key (k))
        /* Tactus's Docker sandbox settings: accepting them silently would
         * let a user believe in a transport or an image that does not
         * exist here.  */
        r = bad (err, n, "sandbox",
                 "'%s' configures Tactus's Docker sandbox; tactus-run runs no container image "
                 "and its broker always talks to the cage over a private socketpair: remove it",
                 k);
      else
        {
          static const char *const known[]
              = { "enabled", "network", "mount_current_dir", "volumes", "env", "limits",
                  "timeout", "jit",     "protected_paths",   NULL };
          r = unknown_key (err, n, "sandbox", NULL, known);
        }
      if (r < 0)
        return -1;
    }
  return 0;
}

static bool
env_name_ok (const char *s, size_t n)
{
  if (n == 0 || !(isalpha ((unsigned char) s[0]) || s[0] == '_'))
    return false;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum ((unsigned char) s[i]) || s[i] == '_'))
      return false;
  return true;
}

/* policy.tools.NAME.env: [NAME, ...] (the host's values) or
 * {NAME: VALUE} (VALUE may use ${VAR} from the host).  */
static int
read_tool_env (struct policy_tool *t, const struct ynode *n, struct tr_error *err)
{
  const char *path = "policy.tools.env";

  if (n->type == YNODE_MAP)
    {
      for (const struct ynode *e = n->child; e; e = e->next)
        {
          cleanup_free char *kv = NULL;
          if (want_scalar (e, path, err) < 0)
            return -1;
          if (!env_name_ok (e->key, strlen (e->key)))
            return bad (err, e, path, "'%s' is not a variable name", e->key);
          /* Its value would be a secret in a file (and is redacted when
           * read): a provider key is passed by name, from the host.  */
          if (config_is_secret_env (e->key))
            return bad (err, e, path,
                        "'%s' is a provider key: name it in a list (env: [%s]) to pass the "
                        "host's value",
                        e->key, e->key);
          if (asprintf (&kv, "%s=%s", e->key, e->value) < 0 || strv_push (&t->env, kv) < 0)
            return tr_fail (err, ENOMEM, "config");
        }
      return 0;
    }
  if (n->type != YNODE_SEQ)
    return bad (err, n, path, "expected a list of variable names or a map of NAME: value");
  for (const struct ynode *e = n->child; e; e = e->next)
    {
      if (want_scalar (e, path, err) < 0)
        return -1;
      if (!env_name_ok (e->value, strlen (e->value)))
        return bad (err, e, path, "'%s' is not a variable name (NAME, or a map NAME: value)",
                    e->value);
      if (strv_push (&t->env, e->value) < 0)
        return tr_fail (err, ENOMEM, "config");
    }
  return 0;
}

static int
read_policy_tool (struct tr_config *c, const struct ynode *n, const char *name,
                  struct tr_error *err)
{
  struct policy *p = &c->policy;
  struct policy_tool *nt, *t;

  if ((strncmp (name, "host.", 5) != 0 || name[5] == '\0') && !policy_is_mcp_name (name))
    return bad (err, n, "policy.tools",
                "'%s': tool names are host.<name>, or mcp.<server>.<tool> (mcp.<server>.* for all "
                "of a server's tools)",
                name);
  nt = realloc (p->tools, (p->n_tools + 1) * sizeof *nt);
  if (nt == NULL)
    return tr_fail (err, ENOMEM, "config");
  p->tools = nt;
  t = &nt[p->n_tools++];
  memset (t, 0, sizeof *t);
  t->name = strdup (name);
  if (n == NULL || n->type == YNODE_SCALAR)
    return 0;
  if (n->type != YNODE_MAP)
    return bad (err, n, "policy.tools", "'%s': expected a map (approval:, command:, timeout:)",
                name);
  for (const struct ynode *f = n->child; f; f = f->next)
    {
      int r;
      if (strcmp (f->key, "approval") == 0)
        {
          if (f->type == YNODE_SCALAR
              && (strcmp (f->value, "required") == 0 || strcmp (f->value, "none") == 0))
            {
              t->approval = f->value[0] == 'r';
              r = 0;
            }
          else
            r = get_bool (f, "policy.tools.approval", &t->approval, err);
        }
      else if (strcmp (f->key, "command") == 0)
        {
          r = get_strv (f, "policy.tools.command", &t->command, err);
          if (r == 0 && (t->command == NULL || t->command[0][0] != '/'))
            r = bad (err, f, "policy.tools.command",
                     "the command must start with an absolute path");
        }
      else if (strcmp (f->key, "timeout") == 0)
        r = get_duration (f, "policy.tools.timeout", &t->timeout, err);
      else if (strcmp (f->key, "env") == 0)
        r = read_tool_env (t, f, err);
      else if (strcmp (f->key, "description") == 0)
        r = 0;
      else
        {
          static const char *const known[]
              = { "approval", "command", "timeout", "env", "description", NULL };
          r = unknown_key (err, f, "policy.tools", name, known);
        }
      if (r < 0)
        return -1;
    }
  return 0;
}

static int
read_policy (struct tr_config *c, const struct ynode *s, struct tr_error *err)
{
  struct policy *p = &c->policy;

  if (s->type != YNODE_MAP)
    return bad (err, s, "policy", "expected a map (tools:, stages:, approve:)");
  for (const struct ynode *n = s->child; n; n = n->next)
    {
      int r = 0;
      if (strcmp (n->key, "tools") == 0)
        {
          if (n->type == YNODE_SEQ)
            for (const struct ynode *t = n->child; r == 0 && t; t = t->next)
              r = t->type == YNODE_SCALAR ? read_policy_tool (c, t, t->value, err)
                                          : bad (err, t, "policy.tools", "expected tool names");
          else if (n->type == YNODE_MAP)
            for (const struct ynode *t = n->child; r == 0 && t; t = t->next)
              r = read_policy_tool (c, t, t->key, err);
          else
            r = bad (err, n, "policy.tools", "expected a list of host tool names or a map");
        }
      else if (strcmp (n->key, "stages") == 0)
        {
          if (n->type != YNODE_MAP)
            r = bad (err, n, "policy.stages", "expected a map of stage: [tools]");
          for (const struct ynode *st = n->child; r == 0 && st; st = st->next)
            {
              struct policy_stage *ns = realloc (p->stages, (p->n_stages + 1) * sizeof *ns);
              if (ns == NULL)
                return tr_fail (err, ENOMEM, "config");
              p->stages = ns;
              memset (&ns[p->n_stages], 0, sizeof *ns);
              ns[p->n_stages].name = strdup (st->key);
              r = get_strv (st, "policy.stages", &ns[p->n_stages].tools, err);
              p->n_stages++;
            }
        }
      else if (strcmp (n->key, "approve") == 0)
        {
          if ((r = want_scalar (n, "policy.approve", err)) == 0)
            {
              if (strcmp (n->value, "ask") == 0)
                p->approve_default = 0;
              else if (strcmp (n->value, "all") == 0)
                p->approve_default = 1;
              else if (strcmp (n->value, "none") == 0)
                p->approve_default = 2;
              else
                r = bad (err, n, "policy.approve", "'%s' must be ask, all or none", n->value);
            }
        }
      else if (strcmp (n->key, "models") == 0)
        r = get_strv (n, "policy.models", &p->models, err);
      else if (strcmp (n->key, "max_tokens") == 0)
        {
          double v;
          r = get_number (n, "policy.max_tokens", 1, 1e12, &v, err);
          p->max_tokens = (long) v;
        }
      else
        {
          static const char *const known[]
              = { "tools", "stages", "approve", "models", "max_tokens", NULL };
          r = unknown_key (err, n, "policy", NULL, known);
        }
      if (r < 0)
        return -1;
    }
  return 0;
}

/* The built-in providers: their entries take no api (they have their own).  */
static const char *const builtin_providers[]
    = { "openai", "anthropic", "google", "gemini", "google-gla", "bedrock", NULL };

static bool
is_builtin_provider (const char *name)
{
  for (const char *const *p = builtin_providers; *p; p++)
    if (strcmp (*p, name) == 0)
      return true;
  return false;
}

static bool
is_url (const char *v)
{
  return strncmp (v, "http://", 7) == 0 || strncmp (v, "https://", 8) == 0;
}

/* providers: NAME: {base_url, api, region, api_key_env}  */
static int
read_providers (struct tr_config *c, const struct ynode *n, struct tr_error *err)
{
  if (n->type != YNODE_MAP)
    return bad (err, n, "providers",
                "expected a map of NAME: {base_url, api, region, api_key_env}");
  for (const struct ynode *e = n->child; e; e = e->next)
    {
      struct config_provider *np, *p;
      if (e->key[0] == '\0'
          || strspn (e->key, "abcdefghijklmnopqrstuvwxyz0123456789_-.") != strlen (e->key))
        return bad (err, e, "providers",
                    "'%s' is not a provider name (lowercase letters, digits, "
                    "'-', '_', '.')",
                    e->key);
      if (e->type != YNODE_MAP)
        return bad (err, e, "providers",
                    "'%s': expected a map (base_url, api, region, api_key_env)", e->key);
      np = realloc (c->providers, (c->n_providers + 1) * sizeof *np);
      if (np == NULL)
        return tr_fail (err, ENOMEM, "config");
      c->providers = np;
      p = &np[c->n_providers++];
      memset (p, 0, sizeof *p);
      p->name = strdup (e->key);
      for (const struct ynode *f = e->child; f; f = f->next)
        {
          int r;
          if (strcmp (f->key, "base_url") == 0)
            {
              r = get_string (f, "providers.base_url", &p->base_url, err);
              if (r == 0 && !is_url (p->base_url))
                r = bad (err, f, "providers.base_url", "'%s' is not an http:// or https:// URL",
                         p->base_url);
            }
          else if (strcmp (f->key, "api") == 0)
            {
              r = get_string (f, "providers.api", &p->api, err);
              if (r == 0 && strcmp (p->api, "openai") != 0)
                r = bad (err, f, "providers.api",
                         "'%s' is not supported (openai: an OpenAI-compatible server)", p->api);
            }
          else if (strcmp (f->key, "region") == 0)
            r = get_string (f, "providers.region", &p->region, err);
          else if (strcmp (f->key, "api_key_env") == 0)
            r = get_string (f, "providers.api_key_env", &p->api_key_env, err);
          else
            {
              static const char *const known[]
                  = { "base_url", "api", "region", "api_key_env", NULL };
              r = unknown_key (err, f, "providers", e->key, known);
            }
          if (r < 0)
            return -1;
        }
      if (is_builtin_provider (p->name) && p->api)
        return bad (err, e, "providers",
                    "'%s' is a built-in provider: it takes base_url (and region), not api",
                    p->name);
      if (!is_builtin_provider (p->name) && (p->api == NULL || p->base_url == NULL))
        return bad (err, e, "providers",
                    "'%s' is not a built-in provider (openai, anthropic, google, bedrock): give it "
                    "api: openai and a base_url for an OpenAI-compatible server",
                    p->name);
    }
  return 0;
}

/* aws: {default_region, profile, ...}; the keys in it are secrets, read by
 * the broker itself.  */
static int
read_aws (struct tr_config *c, const struct ynode *n, struct tr_error *err)
{
  if (n->type != YNODE_MAP)
    return bad (err, n, "aws", "expected a map (default_region, profile, access_key_id, ...)");
  for (const struct ynode *f = n->child; f; f = f->next)
    {
      int r = 0;
      if (strcmp (f->key, "default_region") == 0 || strcmp (f->key, "region") == 0)
        r = get_string (f, "aws.default_region", &c->aws_region, err);
      else if (strcmp (f->key, "profile") == 0)
        r = get_string (f, "aws.profile", &c->aws_profile, err);
      else if (strcmp (f->key, "access_key_id") == 0 || strcmp (f->key, "secret_access_key") == 0
               || strcmp (f->key, "session_token") == 0)
        r = want_scalar (f, "aws", err);
      else
        {
          static const char *const known[]
              = { "default_region",    "profile",       "access_key_id",
                  "secret_access_key", "session_token", NULL };
          r = unknown_key (err, f, "aws", NULL, known);
        }
      if (r < 0)
        return -1;
    }
  return 0;
}

/* model_prices: {MODEL: {input, output}} (USD per million tokens), kept as
 * JSON text for the broker.  */
static int
read_prices (struct tr_config *c, const struct ynode *n, struct tr_error *err)
{
  cJSON *all;

  if (n->type != YNODE_MAP)
    return bad (err, n, "model_prices", "expected a map of MODEL: {input: N, output: N}");
  all = c->model_prices ? cJSON_Parse (c->model_prices) : cJSON_CreateObject ();
  for (const struct ynode *m = n->child; m; m = m->next)
    {
      double in = -1, out = -1;
      cJSON *e;
      if (m->type != YNODE_MAP)
        {
          cJSON_Delete (all);
          return bad (err, m, "model_prices", "'%s': expected {input: N, output: N}", m->key);
        }
      for (const struct ynode *f = m->child; f; f = f->next)
        {
          double *dst = strcmp (f->key, "input") == 0    ? &in
                        : strcmp (f->key, "output") == 0 ? &out
                                                         : NULL;
          if (dst == NULL || get_number (f, "model_prices", 0, 1e6, dst, err) < 0)
            {
              cJSON_Delete (all);
              static const char *const known[] = { "input", "output", NULL };
              return dst ? -1 : unknown_key (err, f, "model_prices", m->key, known);
            }
        }
      if (in < 0 || out < 0)
        {
          cJSON_Delete (all);
          return bad (err, m, "model_prices",
                      "'%s' needs both input and output (USD per million "
                      "tokens)",
                      m->key);
        }
      e = cJSON_CreateObject ();
      cJSON_AddNumberToObject (e, "input", in);
      cJSON_AddNumberToObject (e, "output", out);
      cJSON_DeleteItemFromObjectCaseSensitive (all, m->key);
      cJSON_AddItemToObject (all, m->key, e);
    }
  free (c->model_prices);
  c->model_prices = cJSON_PrintUnformatted (all);
  cJSON_Delete (all);
  return c->model_prices ? 0 : tr_fail (err, ENOMEM, "config");
}

static int
add_volume_to (struct config_volume **vols, size_t *n, const struct ynode *v, const char *path,
               struct tr_error *err)
{
  struct tr_config tmp;
  int r;

  config_init (&tmp);
  tmp.volumes = *vols;
  tmp.n_volumes = *n;
  r = add_volume (&tmp, v, err);
  *vols = tmp.volumes;
  *n = tmp.n_volumes;
  (void) path;
  return r;
}

/* mcp_servers: NAME: {command, args, env, cwd, sandbox, workspace, volumes, timeout}  */
static int
read_mcp (struct tr_config *c, const struct ynode *n, struct tr_error *err)
{
  if (n->type != YNODE_MAP)
    return bad (err, n, "mcp_servers", "expected a map of NAME: {command, args, env, cwd}");
  for (const struct ynode *e = n->child; e; e = e->next)
    {
      struct config_mcp_server *nm, *m = NULL;
      if (e->key[0] == '\0' || strlen (e->key) > 48
          || strspn (e->key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
                 != strlen (e->key))
        return bad (err, e, "mcp_servers",
                    "'%s' is not a server name (letters, digits, '_', '-'; at most 48)", e->key);
      if (e->type != YNODE_MAP)
        return bad (err, e, "mcp_servers", "'%s': expected a map (command, args, env, cwd)",
                    e->key);
      for (size_t i = 0; i < c->n_mcp; i++)
        if (strcmp (c->mcp[i].name, e->key) == 0)
          m = &c->mcp[i];
      if (m == NULL)
        {
          nm = realloc (c->mcp, (c->n_mcp + 1) * sizeof *nm);
          if (nm == NULL)
            return tr_fail (err, ENOMEM, "config");
          c->mcp = nm;
          m = &nm[c->n_mcp++];
          memset (m, 0, sizeof *m);
          m->name = strdup (e->key);
          m->sandbox = true;
          m->workspace = CONFIG_WORKSPACE_OFF;
        }
      m->file = e->file;
      m->line = e->line;
      for (const struct ynode *f = e->child; f; f = f->next)
        {
          int r = 0;
          if (strcmp (f->key, "command") == 0)
            r = get_string (f, "mcp_servers.command", &m->command, err);
          else if (strcmp (f->key, "args") == 0)
            {
              strv_free (m->args);
              m->args = NULL;
              r = f->type == YNODE_SEQ ? get_strv (f, "mcp_servers.args", &m->args, err)
                                       : bad (err, f, "mcp_servers.args", "expected a list");
            }
          else if (strcmp (f->key, "env") == 0)
            {
              /* The values are read when the server starts (secrets).  */
              if (f->type != YNODE_MAP)
                r = bad (err, f, "mcp_servers.env", "expected a map of NAME: value");
              for (const struct ynode *v = f->child; r == 0 && v; v = v->next)
                if (v->key[0] == '\0' || strchr (v->key, '=') || v->type != YNODE_SCALAR)
                  r = bad (err, v, "mcp_servers.env", "'%s' is not NAME: value", v->key);
            }
          else if (strcmp (f->key, "cwd") == 0)
            r = get_string (f, "mcp_servers.cwd", &m->cwd, err);
          else if (strcmp (f->key, "sandbox") == 0)
            r = get_bool (f, "mcp_servers.sandbox", &m->sandbox, err);
          else if (strcmp (f->key, "workspace") == 0)
            {
              struct tr_config tmp;
              config_init (&tmp);
              r = read_workspace (&tmp, f, err);
              m->workspace = tmp.workspace;
            }
          else if (strcmp (f->key, "volumes") == 0)
            {
              if (f->type != YNODE_SEQ)
                r = bad (err, f, "mcp_servers.volumes", "expected a list of HOST:TARGET[:ro]");
              for (const struct ynode *v = f->child; r == 0 && v; v = v->next)
                r = add_volume_to (&m->volumes, &m->n_volumes, v, "mcp_servers.volumes", err);
            }
          else if (strcmp (f->key, "timeout") == 0)
            r = get_duration (f, "mcp_servers.timeout", &m->timeout, err);
          else
            {
              static const char *const known[]
                  = { "command",   "args",    "env",     "cwd", "sandbox",
                      "workspace", "volumes", "timeout", NULL };
              r = unknown_key (err, f, "mcp_servers", e->key, known);
            }
          if (r < 0)
            return -1;
        }
      if (m->command == NULL)
        return bad (err, e, "mcp_servers", "'%s' has no command", e->key);
    }
  return 0;
}

/* The top-level keys, for "did you mean".  The API keys are read by the
 * broker (broker/llm_*.c, key_config).  Tactus's own tool_paths, toolsets,
 * default_toolsets and default_provider mean nothing here (no Python tools;
 * toolsets and the provider are declared in the .tac) and are refused like
 * any other unknown key.  */
static const char *const top_keys[] = { "sandbox",
                                        "policy",
                                        "storage_path",
                                        "openai_base_url",
                                        "default_model",
                                        "providers",
                                        "aws",
                                        "aws_region",
                                        "model_prices",
                                        "mcp_servers",
                                        "openai_api_key",
                                        "anthropic_api_key",
                                        "google_api_key",
                                        "gemini_api_key",
                                        NULL };

static bool
is_secret_key (const char *key)
{
  for (const char *const *k = top_keys; *k; k++)
    if (strcmp (*k, key) == 0 && ytree_is_secret_key (key))
      return true;
  return false;
}

int
config_apply_tree (struct tr_config *c, const struct ynode *root, struct tr_error *err)
{
  for (const struct ynode *n = root->child; n; n = n->next)
    {
      int r = 0;
      if (strcmp (n->key, "sandbox") == 0)
        r = read_sandbox (c, n, err);
      else if (strcmp (n->key, "policy") == 0)
        r = read_policy (c, n, err);
      else if (strcmp (n->key, "storage_path") == 0)
        r = get_string (n, "storage_path", &c->storage_dir, err);
      else if (strcmp (n->key, "openai_base_url") == 0)
        r = get_string (n, "openai_base_url", &c->openai_base_url, err);
      else if (strcmp (n->key, "default_model") == 0)
        r = get_string (n, "default_model", &c->default_model, err);
      else if (strcmp (n->key, "providers") == 0)
        r = read_providers (c, n, err);
      else if (strcmp (n->key, "aws") == 0)
        r = read_aws (c, n, err);
      else if (strcmp (n->key, "aws_region") == 0)
        r = get_string (n, "aws_region", &c->aws_region, err);
      else if (strcmp (n->key, "model_prices") == 0)
        r = read_prices (c, n, err);
      else if (strcmp (n->key, "mcp_servers") == 0)
        r = read_mcp (c, n, err);
      else if (is_secret_key (n->key))
        /* API keys: the broker reads them itself, from the layers no run
         * can write (policy/layers.c, config_read_secret).  */
        r = want_scalar (n, n->key, err);
      else
        r = unknown_key (err, n, "config", NULL, top_keys);
      if (r < 0)
        return -1;
    }
  return 0;
}

int
config_load_text (struct tr_config *c, const char *name, const char *text, size_t len,
                  struct tr_error *err)
{
  struct ynode *root = ytree_parse (name, text, len, err);
  int r;

  if (root == NULL)
    return -1;
  r = config_apply_tree (c, root, err);
  ytree_free (root);
  return r;
}

char *
config_expand (const char *text)
{
  size_t cap = strlen (text) + 1, len = 0;
  char *out = malloc (cap);

  if (out == NULL)
    return NULL;
  for (const char *p = text; *p;)
    {
      const char *val = NULL;
      size_t vlen = 1;
      char name[128];
      if (p[0] == '$' && p[1] == '{')
        {
          const char *close = strchr (p + 2, '}');
          size_t n = close ? (size_t) (close - p - 2) : 0;
          if (close && n > 0 && n < sizeof name
              && strspn (p + 2, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
                     == n)
            {
              memcpy (name, p + 2, n);
              name[n] = '\0';
              val = getenv (name);
              if (val == NULL)
                val = "";
              vlen = strlen (val);
              p = close + 1;
            }
        }
      if (val == NULL)
        val = p++;
      if (len + vlen + 1 > cap)
        {
          char *nb;
          cap = (len + vlen + 1) * 2;
          nb = malloc (cap);
          if (nb == NULL)
            {
              explicit_bzero (out, len);
              free (out);
              return NULL;
            }
          memcpy (nb, out, len);
          explicit_bzero (out, len);
          free (out);
          out = nb;
        }
      memcpy (out + len, val, vlen);
      len += vlen;
    }
  out[len] = '\0';
  return out;
}

void
config_wipe_strv (char **v)
{
  for (char **p = v; p && *p; p++)
    explicit_bzero (*p, strlen (*p));
  strv_free (v);
}
