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

#include "common/cleanup.h"
#include "common/strv.h"
#include "common/userdir.h"
#include "policy/grants.h"
#include "policy/trust.h"
#include "policy/yaml_tree.h"

#define MAX_CONFIG_SIZE (1 << 20)

/* A project-local layer's bytes, as parsed, and the file's real path.  */
struct layer_bytes
{
  char *text;
  size_t len;
  char real[PATH_MAX];
};

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
        return bad (err, l, "sandbox.limits", "unknown limit '%s' (memory, cpus, pids)", l->key);
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
        {
          if ((r = want_scalar (n, "sandbox.network", err)) == 0 && strcmp (n->value, "none") != 0)
            r = bad (err, n, "sandbox.network",
                     "'%s' is not supported: the sandbox is networkless (none); model calls go "
                     "through the broker",
                     n->value);
        }
      else if (strcmp (k, "mount_current_dir") == 0)
        r = read_workspace (c, n, err);
      else if (strcmp (k, "volumes") == 0)
        {
          if (n->type != YNODE_SEQ)
            r = bad (err, n, "sandbox.volumes", "expected a list of HOST:TARGET[:ro]");
          for (const struct ynode *v = n->child; r == 0 && v; v = v->next)
            r = add_volume (c, v, err);
        }
      else if (strcmp (k, "env") == 0)
        r = read_env (c, n, err);
      else if (strcmp (k, "limits") == 0)
        r = read_limits (c, n, err);
      else if (strcmp (k, "timeout") == 0)
        r = get_duration (n, "sandbox.timeout", &c->timeout, err);
      else if (strcmp (k, "jit") == 0)
        r = get_bool (n, "sandbox.jit", &c->jit, err);
      else if (config_is_ignored_key (k))
        continue;
      else
        r = bad (err, n, "sandbox",
                 "unknown key '%s' (enabled, network, mount_current_dir, volumes, "
                 "env, limits, timeout, jit)",
                 k);
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

  if (strncmp (name, "host.", 5) != 0 || name[5] == '\0')
    return bad (err, n, "policy.tools", "'%s': host tool names start with 'host.'", name);
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
        r = bad (err, f, "policy.tools",
                 "'%s': unknown key '%s' (approval, command, timeout, env)", name, f->key);
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
        r = bad (err, n, "policy", "unknown key '%s' (tools, stages, approve, models, max_tokens)",
                 n->key);
      if (r < 0)
        return -1;
    }
  return 0;
}

static int
apply_tree (struct tr_config *c, const struct ynode *root, struct tr_error *err)
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
      /* Other Tactus keys (openai_api_key, aws, mcp_servers, ...) are the
       * broker's business or unused; they are not an error.  */
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
  r = apply_tree (c, root, err);
  ytree_free (root);
  return r;
}

/* Read PATH into a tree; 0 with *OUT NULL when the file does not exist.
 * KEEP (project-local layers): the bytes parsed and the real path of the
 * file they came from, for the trust store.  */
static int
read_layer (const char *path, bool secrets, struct ynode **out, struct layer_bytes *keep,
            struct tr_error *err)
{
  char real[PATH_MAX];
  char *text;
  size_t n;

  *out = NULL;
  /* Read unbuffered into one buffer wiped after parsing: a copy of a
   * secret left in freed memory would reach the sandbox, a copy of this
   * process.  */
  if (tr_read_file (path, MAX_CONFIG_SIZE, &text, &n, real, sizeof real, err) < 0)
    return -1;
  if (text == NULL)
    return 0;
  *out = secrets ? ytree_parse_secrets (path, text, n, err) : ytree_parse (path, text, n, err);
  if (keep && *out)
    {
      keep->text = text;
      keep->len = n;
      snprintf (keep->real, sizeof keep->real, "%s", real);
      return 0;
    }
  explicit_bzero (text, n);
  free (text);
  return *out ? 0 : -1;
}

enum layer_kind
{
  LAYER_SYSTEM,
  LAYER_HOME,
  LAYER_PROJECT, /* ./.tactus/config.yml */
  LAYER_SIDECAR, /* NAME.tac.yml */
  LAYER_EXPLICIT,
};

#define MAX_LAYERS 5

struct layers
{
  char home[PATH_MAX];
  char sidecar[PATH_MAX];
  const char *paths[MAX_LAYERS];
  enum layer_kind kinds[MAX_LAYERS];
  int n;
};

static void
add_layer (struct layers *l, const char *path, enum layer_kind kind)
{
  l->paths[l->n] = path;
  l->kinds[l->n++] = kind;
}

static void
config_layers (const char *tac_path, const char *explicit_file, struct layers *l)
{
  const char *home = getenv ("HOME");

  l->n = 0;
  add_layer (l, "/etc/tactus/config.yml", LAYER_SYSTEM);
  if (home && *home)
    {
      snprintf (l->home, sizeof l->home, "%s/.tactus/config.yml", home);
      add_layer (l, l->home, LAYER_HOME);
    }
  add_layer (l, ".tactus/config.yml", LAYER_PROJECT);
  /* no procedure: no sidecar (tactus-run serve) */
  if (tac_path)
    {
      snprintf (l->sidecar, sizeof l->sidecar, "%s.yml", tac_path);
      add_layer (l, l->sidecar, LAYER_SIDECAR);
    }
  if (explicit_file)
    add_layer (l, explicit_file, LAYER_EXPLICIT);
}

static bool
project_local (enum layer_kind k)
{
  return k == LAYER_PROJECT || k == LAYER_SIDECAR;
}

/* Append " 'PATH'" (or " PATH" when nothing in it needs quoting) to BUF,
 * for a command the user can paste.  */
static void
append_shell_arg (char *buf, size_t size, const char *path)
{
  size_t len = strlen (buf);
  bool plain = path[0] != '\0';

  for (const char *p = path; *p; p++)
    if (!(isalnum ((unsigned char) *p) || strchr ("/._-+:@%,=", *p)))
      plain = false;
  if (plain)
    {
      snprintf (buf + len, size - len, " %s", path);
      return;
    }
  snprintf (buf + len, size - len, " '");
  for (const char *p = path; *p && (len = strlen (buf)) + 6 < size; p++)
    {
      if (*p == '\'')
        snprintf (buf + len, size - len, "'\\''");
      else
        snprintf (buf + len, size - len, "%c", (*p > 0x1f && *p != 0x7f) ? *p : '?');
    }
  len = strlen (buf);
  snprintf (buf + len, size - len, "'");
}

/* The verdict on a project-local layer that grants something: trusted,
 * or a line for the error in WHY.  */
static int
check_trust (const char *path, enum layer_kind kind, const struct layer_bytes *lb,
             const struct config_request *req, char *const *grants, bool *trusted, char *why,
             size_t whysize, struct tr_error *err)
{
  cleanup_free char *ptext = NULL;
  const char *proc_text = NULL;
  char proc_real[PATH_MAX] = "";
  size_t proc_len = 0;
  struct trust_subject subj;
  enum trust_verdict v;
  size_t len;

  if (kind == LAYER_SIDECAR && req->source)
    {
      /* The sidecar's grant covers its procedure as the run executes it;
       * the real path is only shown (`tactus-run trust --list`).  */
      proc_text = req->source;
      proc_len = req->source_len;
      if (realpath (req->procedure, proc_real) == NULL)
        snprintf (proc_real, sizeof proc_real, "%s", req->procedure);
    }
  else if (kind == LAYER_SIDECAR)
    {
      if (tr_read_file (req->procedure, 4 << 20, &ptext, &proc_len, proc_real, sizeof proc_real,
                        err)
          < 0)
        return -1;
      proc_text = ptext ? ptext : "";
    }
  if (trust_subject_make (&subj, lb->real, lb->text, lb->len, proc_real, proc_text, proc_len, err)
          < 0
      || trust_check (&subj, &v, err) < 0)
    return tr_wrap (err, "%s: checking the trust store", path);
  *trusted = v == TRUST_OK;
  if (*trusted)
    return 0;
  snprintf (why, whysize, "%s %s", path,
            v == TRUST_CHANGED             ? "changed since you trusted it"
            : v == TRUST_PROCEDURE_CHANGED ? "was trusted for another version of its procedure"
                                           : "is not trusted");
  len = strlen (why);
  snprintf (why + len, whysize - len, ", and it grants:");
  for (char *const *g = grants; g && *g && (len = strlen (why)) + 8 < whysize; g++)
    snprintf (why + len, whysize - len, "%s %s", g == grants ? "" : ",", *g);
  return 0;
}

int
config_load_request (struct tr_config *c, const struct config_request *req, struct tr_error *err)
{
  struct layers l;
  struct ynode *trees[MAX_LAYERS] = { 0 }, *merged = NULL;
  struct layer_bytes bytes[MAX_LAYERS] = { 0 };
  struct tr_config base;
  char refused[TR_ERROR_MSG_MAX] = "", command[512] = "tactus-run trust";
  int r = -1, n_refused = 0;

  config_init (&base);
  base.quiet = true;
  config_layers (req->procedure, req->explicit_file, &l);
  for (int i = 0; i < l.n; i++)
    {
      if (read_layer (l.paths[i], false, &trees[i], project_local (l.kinds[i]) ? &bytes[i] : NULL,
                      err)
          < 0)
        goto out;
      if (trees[i] == NULL && l.kinds[i] == LAYER_EXPLICIT)
        {
          tr_fail (err, ENOENT, "--config %s", l.paths[i]);
          goto out;
        }
      /* What the layers that need no trust give: the measure of a grant.  */
      if (trees[i] && !project_local (l.kinds[i]) && apply_tree (&base, trees[i], err) < 0)
        goto out;
    }
  for (int i = 0; i < l.n; i++)
    {
      struct tr_config alone;
      cleanup_strv char **grants = NULL;
      bool trusted = false;
      char why[600];
      size_t len;
      int ng;

      if (trees[i] == NULL || !project_local (l.kinds[i]))
        continue;
      config_init (&alone);
      alone.quiet = true;
      r = apply_tree (&alone, trees[i], err);
      ng = r < 0 ? 0 : config_grants (trees[i], &alone, &base, &grants);
      config_free (&alone);
      if (r < 0 || ng < 0)
        {
          if (ng < 0)
            tr_fail (err, ENOMEM, "config");
          r = -1;
          goto out;
        }
      if (ng == 0)
        continue; /* it only restricts */
      r = check_trust (l.paths[i], l.kinds[i], &bytes[i], req, grants, &trusted, why, sizeof why,
                       err);
      if (r < 0)
        goto out;
      if (trusted)
        continue;
      len = strlen (refused);
      snprintf (refused + len, sizeof refused - len, "%s%s", n_refused++ ? "\n  " : "", why);
      append_shell_arg (command, sizeof command, l.paths[i]);
    }
  if (n_refused)
    {
      r = tr_fail (err, 0,
                   "%s\n  A project-local config can only restrict a run until you trust its "
                   "exact content: a run or a cloned repository may have written it.  Review "
                   "it, then run:\n    %s",
                   refused, command);
      goto out;
    }
  r = 0;
  for (int i = 0; i < l.n; i++)
    {
      if (trees[i] == NULL)
        continue;
      strv_push (&c->files, l.paths[i]);
      if (merged == NULL)
        merged = trees[i];
      else
        ytree_merge (merged, trees[i]);
      trees[i] = NULL;
    }
  if (merged)
    r = apply_tree (c, merged, err);
out:
  ytree_free (merged);
  for (int i = 0; i < l.n; i++)
    {
      ytree_free (trees[i]);
      if (bytes[i].text)
        {
          explicit_bzero (bytes[i].text, bytes[i].len);
          free (bytes[i].text);
        }
    }
  config_free (&base);
  return r;
}

int
config_layer_grants (const char *path, const char *text, size_t len, char ***grants,
                     struct tr_error *err)
{
  struct layers l;
  struct tr_config base, alone;
  struct ynode *tree = NULL;
  int r = -1;

  config_init (&base);
  config_init (&alone);
  base.quiet = true;
  config_layers (NULL, NULL, &l);
  for (int i = 0; i < l.n; i++)
    {
      struct ynode *t;
      if (project_local (l.kinds[i]))
        continue;
      if (read_layer (l.paths[i], false, &t, NULL, err) < 0)
        goto out;
      r = t ? apply_tree (&base, t, err) : 0;
      ytree_free (t);
      if (r < 0)
        goto out;
    }
  tree = ytree_parse (path, text, len, err);
  if (tree == NULL || apply_tree (&alone, tree, err) < 0)
    {
      r = -1;
      goto out;
    }
  r = config_grants (tree, &alone, &base, grants);
  if (r < 0)
    tr_fail (err, ENOMEM, "config");
out:
  ytree_free (tree);
  config_free (&base);
  config_free (&alone);
  return r;
}

int
config_load (struct tr_config *c, const char *tac_path, struct tr_error *err)
{
  struct config_request req = { .procedure = tac_path };
  return config_load_request (c, &req, err);
}

/* API keys come only from the layers no run can write: the user's and the
 * system's.  A key in a project-local file would also be readable by
 * every run of that directory.  */
char *
config_read_openai_key (const char *tac_path)
{
  struct layers l;
  struct tr_error err;
  char *key = NULL;

  config_layers (tac_path, NULL, &l);
  for (int i = 0; i < l.n; i++)
    {
      struct ynode *t, *v;
      if (project_local (l.kinds[i]) || read_layer (l.paths[i], true, &t, NULL, &err) < 0
          || t == NULL)
        continue;
      v = ytree_get (t, "openai_api_key");
      if (v && v->type == YNODE_SCALAR && v->value[0])
        {
          if (key)
            {
              explicit_bzero (key, strlen (key));
              free (key);
            }
          key = strdup (v->value);
        }
      ytree_free (t);
    }
  return key;
}
