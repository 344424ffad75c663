/* The config layers of a run: which files, in which order, and which of
 * them need the user's trust (policy/config.h, policy/trust.h).  The
 * project-local layers are checked against the trust store only when they
 * grant something (policy/grants.h), so a run whose project-local layers
 * only restrict never hashes a byte.  */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/strv.h"
#include "common/userdir.h"
#include "policy/config.h"
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
      if (trees[i] && !project_local (l.kinds[i]) && config_apply_tree (&base, trees[i], err) < 0)
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
      r = config_apply_tree (&alone, trees[i], err);
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
    r = config_apply_tree (c, merged, err);
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
      r = t ? config_apply_tree (&base, t, err) : 0;
      ytree_free (t);
      if (r < 0)
        goto out;
    }
  tree = ytree_parse (path, text, len, err);
  if (tree == NULL || config_apply_tree (&alone, tree, err) < 0)
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

/* The node at a dotted path ("aws.secret_access_key").  */
static struct ynode *
get_path (struct ynode *t, const char *path)
{
  char part[128];

  while (t && *path)
    {
      size_t n = strcspn (path, ".");
      if (n >= sizeof part)
        return NULL;
      memcpy (part, path, n);
      part[n] = '\0';
      t = t->type == YNODE_MAP ? ytree_get (t, part) : NULL;
      path += n + (path[n] == '.');
    }
  return t;
}

char *
config_read_openai_key (const char *tac_path)
{
  return config_read_secret (tac_path, "openai_api_key");
}

/* API keys come only from the layers no run can write: the user's and the
 * system's.  A key in a project-local file would also be readable by
 * every run of that directory.  */
char *
config_read_secret (const char *tac_path, const char *name)
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
      v = get_path (t, name);
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

/* An MCP server's env, with its secrets, when the server starts
 * (policy/config.h).  */
char **
config_read_mcp_env (const char *tac_path, const char *name)
{
  struct layers l;
  struct tr_error err;
  struct ynode *merged = NULL, *env;
  char **out = NULL;

  config_layers (tac_path, NULL, &l);
  for (int i = 0; i < l.n; i++)
    {
      struct ynode *t;
      /* As API keys: never from a layer a run can write (the env may hold
       * secrets, and what the broker reads now is not what was trusted
       * when the run started).  */
      if (project_local (l.kinds[i]) || read_layer (l.paths[i], true, &t, NULL, &err) < 0
          || t == NULL)
        continue;
      if (merged == NULL)
        merged = t;
      else
        ytree_merge (merged, t);
    }
  env = merged ? get_path (merged, "mcp_servers") : NULL;
  env = env && env->type == YNODE_MAP ? ytree_get (env, name) : NULL;
  env = env && env->type == YNODE_MAP ? ytree_get (env, "env") : NULL;
  for (const struct ynode *v = env && env->type == YNODE_MAP ? env->child : NULL; v; v = v->next)
    {
      char *val, *kv;
      if (v->type != YNODE_SCALAR)
        continue;
      val = config_expand (v->value);
      if (val && asprintf (&kv, "%s=%s", v->key, val) >= 0)
        {
          strv_push (&out, kv);
          explicit_bzero (kv, strlen (kv));
          free (kv);
        }
      if (val)
        {
          explicit_bzero (val, strlen (val));
          free (val);
        }
    }
  ytree_free (merged); /* wipes every value */
  return out;
}
