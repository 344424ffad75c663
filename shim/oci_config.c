/* config.json -> struct oci_config.
 *
 * Parsed once, validated once: every error names the JSON path of the
 * offending value ("config.json: linux.namespaces[2].type: unknown
 * namespace type \"foo\"").  Unknown fields are ignored, as the spec asks;
 * fields we know but do not implement are refused when using them would
 * change what the container is (idmapped mounts, seccomp notify) and
 * ignored when they only add a label (apparmorProfile, selinuxLabel,
 * mountLabel on a host without those LSMs).
 *
 * Strings point into the cJSON tree, which lives until exit (ar_track_json).  */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <linux/mount.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/suggest.h"
#include "shim/runc.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

const char *const hook_names[HOOK__COUNT]
    = { "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop" };

static int
bad (struct tr_error *err, const char *path, const char *fmt, ...)
{
  char msg[TR_ERROR_MSG_MAX];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  return tr_fail (err, 0, "config.json: %s: %s", path, msg);
}

#define P(...) ar_printf (__VA_ARGS__)

/* One dot-separated identifier list of SemVer 2.0.0 (pre-release when
 * NUMERIC_NO_ZERO: numeric identifiers without leading zeros).  Returns
 * the end, or NULL.  */
static const char *
semver_idents (const char *p, bool numeric_no_zero)
{
  for (;;)
    {
      const char *start = p;
      bool digits = true;
      while (isalnum ((unsigned char) *p) || *p == '-')
        digits &= isdigit ((unsigned char) *p++) != 0;
      if (p == start || (numeric_no_zero && digits && *start == '0' && p - start > 1))
        return NULL;
      if (*p != '.')
        return p;
      p++;
    }
}

static bool
is_semver (const char *v)
{
  const char *p = v;
  for (int part = 0; part < 3; part++)
    {
      const char *start = p;
      while (isdigit ((unsigned char) *p))
        p++;
      if (p == start || (*start == '0' && p - start > 1))
        return false;
      if (part < 2 && *p++ != '.')
        return false;
    }
  if (*p == '-' && (p = semver_idents (p + 1, true)) == NULL)
    return false;
  if (*p == '+' && (p = semver_idents (p + 1, false)) == NULL)
    return false;
  return *p == '\0';
}

static const cJSON *
field (const cJSON *obj, const char *key)
{
  return cJSON_GetObjectItemCaseSensitive (obj, key);
}

static int
get_string (const cJSON *obj, const char *key, const char *path, bool required, const char **out,
            struct tr_error *err)
{
  const cJSON *v = field (obj, key);

  if (v == NULL || cJSON_IsNull (v))
    {
      if (required)
        return bad (err, P ("%s%s", path, key), "is required");
      return 0;
    }
  if (!cJSON_IsString (v))
    return bad (err, P ("%s%s", path, key), "must be a string");
  *out = v->valuestring;
  return 0;
}

static int
get_bool (const cJSON *obj, const char *key, const char *path, bool *out, struct tr_error *err)
{
  const cJSON *v = field (obj, key);

  if (v == NULL || cJSON_IsNull (v))
    return 0;
  if (!cJSON_IsBool (v))
    return bad (err, P ("%s%s", path, key), "must be true or false");
  *out = cJSON_IsTrue (v);
  return 0;
}

/* An integer in [MIN, MAX]; 1 when present, 0 when absent.  */
static int
get_int (const cJSON *obj, const char *key, const char *path, double min, double max, int64_t *out,
         struct tr_error *err)
{
  const cJSON *v = field (obj, key);

  if (v == NULL || cJSON_IsNull (v))
    return 0;
  if (!cJSON_IsNumber (v) || v->valuedouble != floor (v->valuedouble))
    return bad (err, P ("%s%s", path, key), "must be an integer");
  if (v->valuedouble < min || v->valuedouble > max)
    return bad (err, P ("%s%s", path, key), "%.0f is out of range [%.0f, %.0f]", v->valuedouble,
                min, max);
  *out = (int64_t) v->valuedouble;
  return 1;
}

/* A required unsigned 64-bit value; cJSON holds doubles, so 2^64-1 comes
 * back as 2^64: anything from 2^64 on is "unlimited".  */
static int
get_u64 (const cJSON *obj, const char *key, const char *path, uint64_t *out, struct tr_error *err)
{
  const cJSON *v = field (obj, key);

  if (v == NULL || cJSON_IsNull (v))
    return bad (err, P ("%s%s", path, key), "is required");
  if (!cJSON_IsNumber (v) || v->valuedouble < 0 || v->valuedouble != floor (v->valuedouble))
    return bad (err, P ("%s%s", path, key), "must be a non-negative integer");
  *out = v->valuedouble >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t) v->valuedouble;
  return 0;
}

static int
get_object (const cJSON *obj, const char *key, const char *path, const cJSON **out,
            struct tr_error *err)
{
  const cJSON *v = field (obj, key);

  *out = NULL;
  if (v == NULL || cJSON_IsNull (v))
    return 0;
  if (!cJSON_IsObject (v))
    return bad (err, P ("%s%s", path, key), "must be an object");
  *out = v;
  return 0;
}

static int
get_array (const cJSON *obj, const char *key, const char *path, const cJSON **out,
           struct tr_error *err)
{
  const cJSON *v = field (obj, key);

  *out = NULL;
  if (v == NULL || cJSON_IsNull (v))
    return 0;
  if (!cJSON_IsArray (v))
    return bad (err, P ("%s%s", path, key), "must be an array");
  *out = v;
  return 0;
}

/* A NULL-terminated array of strings.  */
static int
get_strv (const cJSON *obj, const char *key, const char *path, const char ***out, size_t *n_out,
          struct tr_error *err)
{
  const cJSON *a, *it;
  const char **v;
  size_t n = 0, i = 0;

  if (get_array (obj, key, path, &a, err) < 0)
    return -1;
  if (a == NULL)
    return 0;
  n = (size_t) cJSON_GetArraySize (a);
  v = ar_alloc ((n + 1) * sizeof *v);
  cJSON_ArrayForEach (it, a)
  {
    if (!cJSON_IsString (it))
      return bad (err, P ("%s%s[%zu]", path, key, i), "must be a string");
    v[i++] = it->valuestring;
  }
  v[i] = NULL;
  *out = v;
  if (n_out)
    *n_out = i;
  return 0;
}

/* ---- process ---- */

static const struct
{
  const char *name;
  int resource;
} rlimit_names[] = {
  { "RLIMIT_AS", RLIMIT_AS },
  { "RLIMIT_CORE", RLIMIT_CORE },
  { "RLIMIT_CPU", RLIMIT_CPU },
  { "RLIMIT_DATA", RLIMIT_DATA },
  { "RLIMIT_FSIZE", RLIMIT_FSIZE },
  { "RLIMIT_LOCKS", RLIMIT_LOCKS },
  { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
  { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
  { "RLIMIT_NICE", RLIMIT_NICE },
  { "RLIMIT_NOFILE", RLIMIT_NOFILE },
  { "RLIMIT_NPROC", RLIMIT_NPROC },
  { "RLIMIT_RSS", RLIMIT_RSS },
  { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
  { "RLIMIT_RTTIME", RLIMIT_RTTIME },
  { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
  { "RLIMIT_STACK", RLIMIT_STACK },
};

static int
parse_caps (const cJSON *obj, const char *path, struct ct_caps *caps, struct tr_error *err)
{
  static const char *const sets[]
      = { "bounding", "effective", "inheritable", "permitted", "ambient" };
  uint64_t *dst[]
      = { &caps->bounding, &caps->effective, &caps->inheritable, &caps->permitted, &caps->ambient };

  memset (caps, 0, sizeof *caps);
  for (size_t s = 0; s < 5; s++)
    {
      const char **names = NULL;
      size_t n = 0;
      if (get_strv (obj, sets[s], path, &names, &n, err) < 0)
        return -1;
      for (size_t i = 0; i < n; i++)
        {
          int c = caps_from_name (names[i]);
          if (c < 0)
            {
              /* The spec: "Any value which cannot be mapped to a relevant
               * kernel interface MUST cause an error" (runc only warns).
               * libcap-ng names every capability Linux defines; one this
               * kernel lacks is a warning at create (oci_caps_fit_bounding).  */
              const char *cands[64];
              size_t nc = 0;
              char buf[64][40];
              const char *near;
              for (int k = 0; k <= 63 && nc < 64; k++)
                {
                  const char *cn = caps_name (k);
                  if (cn == NULL)
                    continue;
                  snprintf (buf[nc], sizeof buf[nc], "CAP_%s", cn);
                  for (char *q = buf[nc]; *q; q++)
                    *q = (char) toupper ((unsigned char) *q);
                  cands[nc] = buf[nc];
                  nc++;
                }
              near = tr_suggest (names[i], cands, nc);
              return bad (err, P ("%s%s[%zu]", path, sets[s], i), "unknown capability \"%s\"%s%s%s",
                          names[i], near ? " (did you mean " : "", near ? near : "",
                          near ? "?)" : "");
            }
          *dst[s] |= 1ull << c;
        }
    }
  return 0;
}

int
oci_process_parse (const cJSON *node, const char *path, struct oci_process *p, struct tr_error *err)
{
  const cJSON *o, *a, *it;
  int64_t v;
  size_t i;

  memset (p, 0, sizeof *p);
  if (!cJSON_IsObject (node))
    return bad (err, path[0] ? P ("%.*s", (int) strlen (path) - 1, path) : "process",
                "must be an object");
  if (get_bool (node, "terminal", path, &p->terminal, err) < 0)
    return -1;
  if (get_object (node, "consoleSize", path, &o, err) < 0)
    return -1;
  if (o)
    {
      const char *cp = P ("%sconsoleSize.", path);
      int64_t h = 0, w = 0;
      if (get_int (o, "height", cp, 0, 65535, &h, err) < 0
          || get_int (o, "width", cp, 0, 65535, &w, err) < 0)
        return -1;
      p->has_console_size = true;
      p->console_height = (unsigned) h;
      p->console_width = (unsigned) w;
    }
  if (get_string (node, "cwd", path, true, &p->cwd, err) < 0)
    return -1;
  if (p->cwd[0] != '/')
    return bad (err, P ("%scwd", path), "must be an absolute path (got \"%s\")", p->cwd);
  if (get_strv (node, "args", path, &p->args, &i, err) < 0)
    return -1;
  if (p->args == NULL || i == 0)
    return bad (err, P ("%sargs", path), "must be a non-empty array of strings");
  if (get_strv (node, "env", path, &p->env, &i, err) < 0)
    return -1;
  if (p->env == NULL)
    {
      p->env = ar_alloc (sizeof *p->env);
      p->env[0] = NULL;
    }
  for (size_t k = 0; p->env[k]; k++)
    if (strchr (p->env[k], '=') == NULL || p->env[k][0] == '=')
      return bad (err, P ("%senv[%zu]", path, k), "\"%s\" is not NAME=VALUE", p->env[k]);

  if (get_object (node, "user", path, &o, err) < 0)
    return -1;
  if (o)
    {
      const char *up = P ("%suser.", path);
      if (get_int (o, "uid", up, 0, UINT32_MAX - 1, &v, err) < 0)
        return -1;
      p->uid = (uid_t) (field (o, "uid") ? v : 0);
      v = 0;
      if (get_int (o, "gid", up, 0, UINT32_MAX - 1, &v, err) < 0)
        return -1;
      p->gid = (gid_t) v;
      v = 0;
      if (get_int (o, "umask", up, 0, 07777, &v, err) < 0)
        return -1;
      if (field (o, "umask") && !cJSON_IsNull (field (o, "umask")))
        {
          p->has_umask = true;
          p->umask = (mode_t) v;
        }
      if (get_array (o, "additionalGids", up, &a, err) < 0)
        return -1;
      if (a)
        {
          p->gids = ar_alloc (((size_t) cJSON_GetArraySize (a) + 1) * sizeof *p->gids);
          i = 0;
          cJSON_ArrayForEach (it, a)
          {
            if (!cJSON_IsNumber (it) || it->valuedouble < 0 || it->valuedouble >= UINT32_MAX
                || it->valuedouble != floor (it->valuedouble))
              return bad (err, P ("%sadditionalGids[%zu]", up, i), "must be a gid");
            p->gids[i++] = (gid_t) it->valuedouble;
          }
          p->n_gids = i;
        }
    }

  if (get_object (node, "capabilities", path, &o, err) < 0)
    return -1;
  if (o && parse_caps (o, P ("%scapabilities.", path), &p->caps, err) < 0)
    return -1;

  if (get_array (node, "rlimits", path, &a, err) < 0)
    return -1;
  if (a)
    {
      p->rlimits = ar_alloc (((size_t) cJSON_GetArraySize (a) + 1) * sizeof *p->rlimits);
      i = 0;
      cJSON_ArrayForEach (it, a)
      {
        const char *rp = P ("%srlimits[%zu].", path, i);
        const char *type = NULL;
        bool found = false;
        if (!cJSON_IsObject (it))
          return bad (err, P ("%srlimits[%zu]", path, i), "must be an object");
        if (get_string (it, "type", rp, true, &type, err) < 0)
          return -1;
        for (size_t k = 0; k < sizeof rlimit_names / sizeof rlimit_names[0]; k++)
          if (strcmp (rlimit_names[k].name, type) == 0)
            {
              p->rlimits[i].resource = rlimit_names[k].resource;
              found = true;
            }
        if (!found)
          return bad (err, P ("%stype", rp), "unknown rlimit \"%s\"", type);
        if (get_u64 (it, "soft", rp, &p->rlimits[i].soft, err) < 0
            || get_u64 (it, "hard", rp, &p->rlimits[i].hard, err) < 0)
          return -1;
        if (p->rlimits[i].soft > p->rlimits[i].hard)
          return bad (err, P ("%ssoft", rp), "is larger than hard");
        i++;
      }
      p->n_rlimits = i;
    }
  if (get_bool (node, "noNewPrivileges", path, &p->no_new_privs, err) < 0)
    return -1;
  v = 0;
  switch (get_int (node, "oomScoreAdj", path, -1000, 1000, &v, err))
    {
    case -1:
      return -1;
    case 1:
      p->has_oom_score_adj = true;
      p->oom_score_adj = (int) v;
      break;
    default:
      break;
    }
  return 0;
}

/* ---- mounts ---- */

struct attr_opt
{
  const char *name;
  bool clear;
  uint64_t attr;
};

static const struct attr_opt attr_opts[] = {
  { "ro", false, MOUNT_ATTR_RDONLY },
  { "rw", true, MOUNT_ATTR_RDONLY },
  { "nosuid", false, MOUNT_ATTR_NOSUID },
  { "suid", true, MOUNT_ATTR_NOSUID },
  { "nodev", false, MOUNT_ATTR_NODEV },
  { "dev", true, MOUNT_ATTR_NODEV },
  { "noexec", false, MOUNT_ATTR_NOEXEC },
  { "exec", true, MOUNT_ATTR_NOEXEC },
  { "noatime", false, MOUNT_ATTR_NOATIME },
  { "atime", true, MOUNT_ATTR_NOATIME },
  { "strictatime", false, MOUNT_ATTR_STRICTATIME },
  { "relatime", false, MOUNT_ATTR_RELATIME },
  { "nodiratime", false, MOUNT_ATTR_NODIRATIME },
  { "diratime", true, MOUNT_ATTR_NODIRATIME },
  { "nosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW },
  { "symfollow", true, MOUNT_ATTR_NOSYMFOLLOW },
};

static const struct
{
  const char *name;
  unsigned long flag;
  bool recursive;
} prop_opts[] = {
  { "private", MS_PRIVATE, false },       { "rprivate", MS_PRIVATE, true },
  { "shared", MS_SHARED, false },         { "rshared", MS_SHARED, true },
  { "slave", MS_SLAVE, false },           { "rslave", MS_SLAVE, true },
  { "unbindable", MS_UNBINDABLE, false }, { "runbindable", MS_UNBINDABLE, true },
};

static const char *const ignored_opts[]
    = { "defaults", "async",      "remount",       "loud",     "silent",     "nomand",
        "mand",     "norelatime", "nostrictatime", "iversion", "noiversion", "nolazytime" };

static bool
is_atime (uint64_t a)
{
  return a == MOUNT_ATTR_NOATIME || a == MOUNT_ATTR_STRICTATIME || a == MOUNT_ATTR_RELATIME;
}

static int
parse_mount_options (struct ct_mount *m, const char **opts, size_t n, const char *path,
                     struct tr_error *err)
{
  m->data_keys = ar_alloc ((n + 1) * sizeof *m->data_keys);
  m->data_values = ar_alloc ((n + 1) * sizeof *m->data_values);
  for (size_t i = 0; i < n; i++)
    {
      const char *o = opts[i];
      bool done = false;

      if (strcmp (o, "bind") == 0)
        {
          m->bind = true;
          continue;
        }
      if (strcmp (o, "rbind") == 0)
        {
          m->bind = m->recursive = true;
          continue;
        }
      if (strcmp (o, "tmpcopyup") == 0)
        {
          m->tmpcopyup = true;
          continue;
        }
      if (strcmp (o, "idmap") == 0 || strcmp (o, "ridmap") == 0)
        return bad (err, P ("%s[%zu]", path, i), "idmapped mounts are not supported");
      for (size_t k = 0; k < sizeof ignored_opts / sizeof ignored_opts[0] && !done; k++)
        done = strcmp (o, ignored_opts[k]) == 0;
      for (size_t k = 0; k < sizeof prop_opts / sizeof prop_opts[0] && !done; k++)
        if (strcmp (o, prop_opts[k].name) == 0)
          {
            m->propagation = prop_opts[k].flag;
            m->prop_recursive = prop_opts[k].recursive;
            done = true;
          }
      for (size_t k = 0; k < sizeof attr_opts / sizeof attr_opts[0] && !done; k++)
        {
          const struct attr_opt *a = &attr_opts[k];
          bool rec = o[0] == 'r' && strcmp (o + 1, a->name) == 0;
          uint64_t *set, *clr;
          if (!rec && strcmp (o, a->name) != 0)
            continue;
          set = rec ? &m->rattr_set : &m->attr_set;
          clr = rec ? &m->rattr_clr : &m->attr_clr;
          if (a->clear && a->attr == MOUNT_ATTR_NOATIME)
            {
              /* atime: not noatime (mount(8)); the kernel's default,
               * relatime, unless strictatime was asked.  */
              if (!(*clr & MOUNT_ATTR__ATIME) || (*set & MOUNT_ATTR__ATIME) == MOUNT_ATTR_NOATIME)
                *set = (*set & ~(uint64_t) MOUNT_ATTR__ATIME) | MOUNT_ATTR_RELATIME;
              *clr |= MOUNT_ATTR__ATIME;
            }
          else if (is_atime (a->attr))
            {
              *set = (*set & ~(uint64_t) MOUNT_ATTR__ATIME) | a->attr;
              *clr |= MOUNT_ATTR__ATIME;
            }
          else if (a->clear)
            {
              *clr |= a->attr;
              *set &= ~a->attr;
            }
          else
            {
              *set |= a->attr;
              *clr &= ~a->attr;
            }
          done = true;
        }
      if (done)
        continue;
      /* A filesystem option: key=value, or a flag.  */
      {
        const char *eq = strchr (o, '=');
        if (o[0] == '\0' || (eq && eq == o))
          return bad (err, P ("%s[%zu]", path, i), "empty mount option");
        if (eq)
          {
            m->data_keys[m->n_data] = ar_printf ("%.*s", (int) (eq - o), o);
            m->data_values[m->n_data] = eq + 1;
          }
        else
          {
            m->data_keys[m->n_data] = o;
            m->data_values[m->n_data] = NULL;
          }
        m->n_data++;
      }
    }
  return 0;
}

static int
parse_mounts (const cJSON *root, const char *bundle, struct oci_config *cfg, struct tr_error *err)
{
  const cJSON *a, *it;
  size_t i = 0;

  if (get_array (root, "mounts", "", &a, err) < 0)
    return -1;
  if (a == NULL)
    return 0;
  cfg->mounts = ar_alloc (((size_t) cJSON_GetArraySize (a) + 1) * sizeof *cfg->mounts);
  cJSON_ArrayForEach (it, a)
  {
    struct ct_mount *m = &cfg->mounts[i];
    const char *mp = P ("mounts[%zu].", i);
    const char **opts = NULL;
    size_t n_opts = 0;
    const char *dest = NULL, *src = NULL, *type = NULL;

    if (!cJSON_IsObject (it))
      return bad (err, P ("mounts[%zu]", i), "must be an object");
    if (get_string (it, "destination", mp, true, &dest, err) < 0
        || get_string (it, "source", mp, false, &src, err) < 0
        || get_string (it, "type", mp, false, &type, err) < 0
        || get_strv (it, "options", mp, &opts, &n_opts, err) < 0)
      return -1;
    if (dest[0] == '\0')
      return bad (err, P ("%sdestination", mp), "must not be empty");
    if (field (it, "uidMappings") || field (it, "gidMappings"))
      return bad (err, P ("%suidMappings", mp), "idmapped mounts are not supported");
    {
      /* Cleaned before any check: "/proc/", "/./proc" and "//proc" are
       * /proc.  */
      char clean[4096];
      if (ct_clean_path (dest, clean, sizeof clean) < 0)
        return bad (err, P ("%sdestination", mp), "too long");
      m->destination = ar_strdup (clean);
    }
    m->type = type && type[0] ? type : NULL;
    m->what = P ("mounts[%zu] (%s)", i, m->destination);
    if (parse_mount_options (m, opts, n_opts, P ("%soptions", mp), err) < 0)
      return -1;
    if (m->type && strcmp (m->type, "bind") == 0)
      m->bind = true;
    if (m->bind)
      {
        if (src == NULL || src[0] == '\0')
          return bad (err, P ("%ssource", mp), "a bind mount needs a source");
        m->source = src[0] == '/' ? src : P ("%s/%s", bundle, src);
        m->type = NULL;
      }
    else
      {
        if (m->type == NULL)
          return bad (err, P ("%stype", mp), "is required for a mount that is not a bind");
        if (m->tmpcopyup && strcmp (m->type, "tmpfs") != 0)
          return bad (err, P ("%soptions", mp), "tmpcopyup is only for tmpfs");
        m->source = src;
      }
    /* CVE-2019-16884: nothing but procfs may be mounted at /proc, and
     * nothing under it but what runc's checkProcMount allows (binds of
     * regular files over what lxcfs emulates; the file type is checked
     * when the source is opened, sandbox/rootfs.c).  */
    switch (ct_proc_dest (m->destination))
      {
      case CT_PROC_ROOT:
        if (m->bind || strcmp (m->type, "proc") != 0)
          return bad (err, P ("%sdestination", mp), "/proc can only be a proc mount");
        break;
      case CT_PROC_FILE:
        if (!m->bind)
          return bad (err, P ("%sdestination", mp),
                      "%s: only a bind of a regular file may go there", m->destination);
        break;
      case CT_PROC_REFUSED:
        return bad (err, P ("%sdestination", mp),
                    "%s is inside /proc: nothing may be mounted there (but binds of regular "
                    "files over /proc/cpuinfo, /proc/meminfo and the other files lxcfs "
                    "emulates)",
                    m->destination);
      case CT_PROC_OUTSIDE:
        break;
      }
    i++;
  }
  cfg->n_mounts = i;
  return 0;
}

/* ---- hooks ---- */

static int
parse_hooks (const cJSON *root, struct oci_config *cfg, struct tr_error *err)
{
  const cJSON *h;

  if (get_object (root, "hooks", "", &h, err) < 0)
    return -1;
  if (h == NULL)
    return 0;
  for (int k = 0; k < HOOK__COUNT; k++)
    {
      const cJSON *a, *it;
      size_t i = 0;
      if (get_array (h, hook_names[k], "hooks.", &a, err) < 0)
        return -1;
      if (a == NULL)
        continue;
      cfg->hooks[k] = ar_alloc (((size_t) cJSON_GetArraySize (a) + 1) * sizeof (struct oci_hook));
      cJSON_ArrayForEach (it, a)
      {
        struct oci_hook *hk = &cfg->hooks[k][i];
        const char *hp = P ("hooks.%s[%zu].", hook_names[k], i);
        int64_t t = 0;
        if (!cJSON_IsObject (it))
          return bad (err, P ("hooks.%s[%zu]", hook_names[k], i), "must be an object");
        if (get_string (it, "path", hp, true, &hk->path, err) < 0
            || get_strv (it, "args", hp, &hk->args, NULL, err) < 0
            || get_strv (it, "env", hp, &hk->env, NULL, err) < 0)
          return -1;
        if (hk->path[0] != '/')
          return bad (err, P ("%spath", hp), "must be an absolute path");
        if (get_int (it, "timeout", hp, 1, 86400 * 365, &t, err) < 0)
          return -1;
        if (field (it, "timeout") && t <= 0)
          return bad (err, P ("%stimeout", hp), "must be > 0");
        hk->timeout = (int) t;
        i++;
      }
      cfg->n_hooks[k] = i;
    }
  return 0;
}

/* ---- linux ---- */

static const struct
{
  const char *name;
  int flag;
} ns_names[] = {
  { "pid", CLONE_NEWPID },       { "network", CLONE_NEWNET }, { "mount", CLONE_NEWNS },
  { "ipc", CLONE_NEWIPC },       { "uts", CLONE_NEWUTS },     { "user", CLONE_NEWUSER },
  { "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
};

static int
parse_idmaps (const cJSON *lin, const char *key, struct oci_idmap *maps, size_t *n,
              struct tr_error *err)
{
  const cJSON *a, *it;
  size_t i = 0;

  if (get_array (lin, key, "linux.", &a, err) < 0)
    return -1;
  if (a == NULL)
    return 0;
  if (cJSON_GetArraySize (a) > OCI_MAX_IDMAPS)
    return bad (err, P ("linux.%s", key), "more than %d entries", OCI_MAX_IDMAPS);
  cJSON_ArrayForEach (it, a)
  {
    const char *mp = P ("linux.%s[%zu].", key, i);
    int64_t c = 0, h = 0, s = 0;
    if (!cJSON_IsObject (it))
      return bad (err, P ("linux.%s[%zu]", key, i), "must be an object");
    if (get_int (it, "containerID", mp, 0, UINT32_MAX, &c, err) < 0
        || get_int (it, "hostID", mp, 0, UINT32_MAX, &h, err) < 0
        || get_int (it, "size", mp, 1, UINT32_MAX, &s, err) < 0)
      return -1;
    if (!field (it, "size"))
      return bad (err, P ("%ssize", mp), "is required");
    maps[i].container_id = (uint32_t) c;
    maps[i].host_id = (uint32_t) h;
    maps[i].size = (uint32_t) s;
    i++;
  }
  *n = i;
  return 0;
}

static int
parse_devices (const cJSON *lin, struct oci_config *cfg, struct tr_error *err)
{
  const cJSON *a, *it;
  size_t i = 0;

  if (get_array (lin, "devices", "linux.", &a, err) < 0)
    return -1;
  if (a == NULL)
    return 0;
  cfg->devices = ar_alloc (((size_t) cJSON_GetArraySize (a) + 1) * sizeof *cfg->devices);
  cJSON_ArrayForEach (it, a)
  {
    struct ct_device *d = &cfg->devices[i];
    const char *dp = P ("linux.devices[%zu].", i);
    const char *type = NULL;
    int64_t v = 0;
    if (!cJSON_IsObject (it))
      return bad (err, P ("linux.devices[%zu]", i), "must be an object");
    if (get_string (it, "type", dp, true, &type, err) < 0
        || get_string (it, "path", dp, true, &d->path, err) < 0)
      return -1;
    if (strlen (type) != 1 || !strchr ("cbup", type[0]))
      return bad (err, P ("%stype", dp), "must be one of c, b, u, p (got \"%s\")", type);
    d->type = type[0] == 'u' ? 'c' : type[0];
    if (strncmp (d->path, "/dev/", 5) != 0 || strstr (d->path, "/../") || d->path[5] == '\0')
      return bad (err, P ("%spath", dp), "must be a path under /dev (got \"%s\")", d->path);
    if (d->type != 'p')
      {
        if (!field (it, "major") || !field (it, "minor"))
          return bad (err, P ("%smajor", dp), "major and minor are required for type %c", d->type);
        if (get_int (it, "major", dp, 0, 4095, &v, err) < 0)
          return -1;
        d->major = (uint32_t) v;
        if (get_int (it, "minor", dp, 0, 1048575, &v, err) < 0)
          return -1;
        d->minor = (uint32_t) v;
      }
    v = 0666;
    if (get_int (it, "fileMode", dp, 0, 07777, &v, err) < 0)
      return -1;
    d->mode = (mode_t) v;
    d->has_mode = true;
    v = 0;
    if (get_int (it, "uid", dp, 0, UINT32_MAX - 1, &v, err) < 0)
      return -1;
    d->uid = (uid_t) v;
    v = 0;
    if (get_int (it, "gid", dp, 0, UINT32_MAX - 1, &v, err) < 0)
      return -1;
    d->gid = (gid_t) v;
    d->what = P ("linux.devices[%zu] (%s)", i, d->path);
    i++;
  }
  cfg->n_devices = i;
  return 0;
}

static int
parse_device_rules (const cJSON *res, const char *path, struct ct_resources *r,
                    struct tr_error *err)
{
  const cJSON *a, *it;
  struct ct_device_rule *rules;
  size_t i = 0;

  if (get_array (res, "devices", path, &a, err) < 0)
    return -1;
  if (a == NULL)
    return 0;
  rules = ar_alloc (((size_t) cJSON_GetArraySize (a) + 1) * sizeof *rules);
  cJSON_ArrayForEach (it, a)
  {
    const char *dp = P ("%sdevices[%zu].", path, i);
    const char *type = NULL, *access = NULL;
    bool allow = false;
    int64_t v;
    if (!cJSON_IsObject (it))
      return bad (err, P ("%sdevices[%zu]", path, i), "must be an object");
    if (!field (it, "allow"))
      return bad (err, P ("%sallow", dp), "is required");
    if (get_bool (it, "allow", dp, &allow, err) < 0
        || get_string (it, "type", dp, false, &type, err) < 0
        || get_string (it, "access", dp, false, &access, err) < 0)
      return -1;
    rules[i].allow = allow;
    rules[i].type = type && type[0] ? type[0] : 'a';
    if (type && (strlen (type) != 1 || !strchr ("acbu", type[0])))
      return bad (err, P ("%stype", dp), "must be a, c, b or u");
    if (rules[i].type == 'u')
      rules[i].type = 'c';
    rules[i].major = rules[i].minor = -1;
    v = -1;
    if (get_int (it, "major", dp, -1, 4095, &v, err) < 0)
      return -1;
    rules[i].major = v;
    v = -1;
    if (get_int (it, "minor", dp, -1, 1048575, &v, err) < 0)
      return -1;
    rules[i].minor = v;
    if (access == NULL || access[0] == '\0')
      access = "rwm";
    for (const char *c = access; *c; c++)
      switch (*c)
        {
        case 'r':
          rules[i].access |= CT_DEV_READ;
          break;
        case 'w':
          rules[i].access |= CT_DEV_WRITE;
          break;
        case 'm':
          rules[i].access |= CT_DEV_MKNOD;
          break;
        default:
          return bad (err, P ("%saccess", dp), "must be letters of \"rwm\" (got \"%s\")", access);
        }
    i++;
  }
  r->devices = rules;
  r->n_devices = i;
  return 0;
}

int
oci_resources_parse (const cJSON *res, const char *path, struct ct_resources *r,
                     struct tr_error *err)
{
  const cJSON *o;
  int64_t v;

  memset (r, 0, sizeof *r);
  if (!cJSON_IsObject (res))
    return bad (err, path, "must be an object");
  if (get_object (res, "memory", path, &o, err) < 0)
    return -1;
  if (o)
    {
      const char *mp = P ("%smemory.", path);
      r->has_memory = true;
      v = 0;
      if (get_int (o, "limit", mp, -1, 9.2e18, &v, err) < 0)
        return -1;
      r->memory_limit = v;
      v = 0;
      if (get_int (o, "reservation", mp, -1, 9.2e18, &v, err) < 0)
        return -1;
      r->memory_reservation = v;
      v = 0;
      if (get_int (o, "swap", mp, -1, 9.2e18, &v, err) < 0)
        return -1;
      r->memory_swap = v;
      if (r->memory_swap > 0 && r->memory_limit > 0 && r->memory_swap < r->memory_limit)
        return bad (err, P ("%sswap", mp), "memory+swap (%lld) must not be below the limit (%lld)",
                    (long long) r->memory_swap, (long long) r->memory_limit);
      if (get_bool (o, "disableOOMKiller", mp, &r->disable_oom_killer, err) < 0)
        return -1;
    }
  if (get_object (res, "pids", path, &o, err) < 0)
    return -1;
  if (o)
    {
      v = 0;
      if (get_int (o, "limit", P ("%spids.", path), -1, 9.2e18, &v, err) < 0)
        return -1;
      r->has_pids = field (o, "limit") != NULL;
      r->pids_limit = v <= 0 ? -1 : v;
    }
  if (get_object (res, "cpu", path, &o, err) < 0)
    return -1;
  if (o)
    {
      const char *cp = P ("%scpu.", path);
      v = 0;
      if (get_int (o, "shares", cp, 0, 262144, &v, err) < 0)
        return -1;
      r->cpu_shares = (uint64_t) v;
      v = 0;
      if (get_int (o, "quota", cp, -1, 9.2e18, &v, err) < 0)
        return -1;
      r->cpu_quota = v;
      v = 0;
      if (get_int (o, "period", cp, 0, 1000000, &v, err) < 0)
        return -1;
      if (v && v < 1000)
        return bad (err, P ("%speriod", cp), "must be at least 1000 (microseconds)");
      r->cpu_period = (uint64_t) v;
      if (get_string (o, "cpus", cp, false, &r->cpus, err) < 0
          || get_string (o, "mems", cp, false, &r->mems, err) < 0)
        return -1;
      v = 0;
      switch (get_int (o, "idle", cp, 0, 1, &v, err))
        {
        case -1:
          return -1;
        case 1:
          r->has_cpu_idle = true;
          r->cpu_idle = v;
          break;
        default:
          break;
        }
    }
  if (get_object (res, "blockIO", path, &o, err) < 0)
    return -1;
  if (o)
    {
      v = 0;
      if (get_int (o, "weight", P ("%sblockIO.", path), 0, 1000, &v, err) < 0)
        return -1;
      if (v && v < 10)
        return bad (err, P ("%sblockIO.weight", path), "must be in [10, 1000]");
      r->blkio_weight = (uint16_t) v;
    }
  if (get_object (res, "unified", path, &o, err) < 0)
    return -1;
  if (o)
    {
      const cJSON *it;
      size_t n = (size_t) cJSON_GetArraySize (o), i = 0;
      r->unified_keys = ar_alloc ((n + 1) * sizeof (char *));
      r->unified_values = ar_alloc ((n + 1) * sizeof (char *));
      cJSON_ArrayForEach (it, o)
      {
        const char *k = it->string;
        if (!cJSON_IsString (it))
          return bad (err, P ("%sunified.%s", path, k), "must be a string");
        if (strchr (k, '/') || k[0] == '.' || strncmp (k, "cgroup.", 7) == 0 || !strchr (k, '.'))
          return bad (err, P ("%sunified.%s", path, k),
                      "not a controller file (controller.key, no '/', not cgroup.*)");
        r->unified_keys[i] = k;
        r->unified_values[i] = it->valuestring;
        i++;
      }
      r->n_unified = i;
    }
  return parse_device_rules (res, path, r, err);
}

static bool
sysctl_namespaced (const char *key, int ns_flags, const char **why)
{
  static const char *const ipc_keys[]
      = { "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
          "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced" };
  for (size_t i = 0; i < sizeof ipc_keys / sizeof ipc_keys[0]; i++)
    if (strcmp (key, ipc_keys[i]) == 0)
      {
        *why = "an IPC namespace";
        return ns_flags & CLONE_NEWIPC;
      }
  if (strncmp (key, "fs.mqueue.", 10) == 0)
    {
      *why = "an IPC namespace";
      return ns_flags & CLONE_NEWIPC;
    }
  if (strncmp (key, "net.", 4) == 0)
    {
      *why = "a network namespace";
      return ns_flags & CLONE_NEWNET;
    }
  if (strcmp (key, "kernel.hostname") == 0 || strcmp (key, "kernel.domainname") == 0)
    {
      *why = "a UTS namespace";
      return ns_flags & CLONE_NEWUTS;
    }
  *why = NULL;
  return false;
}

static int
parse_linux (const cJSON *root, struct oci_config *cfg, struct tr_error *err)
{
  const cJSON *lin, *a, *it, *o;
  const char *prop = NULL;
  size_t i;

  if (get_object (root, "linux", "", &lin, err) < 0)
    return -1;
  if (lin == NULL)
    return 0;

  if (get_array (lin, "namespaces", "linux.", &a, err) < 0)
    return -1;
  i = 0;
  if (a)
    cJSON_ArrayForEach (it, a)
    {
      const char *np = P ("linux.namespaces[%zu].", i);
      const char *type = NULL, *path = NULL;
      int flag = 0;
      if (!cJSON_IsObject (it))
        return bad (err, P ("linux.namespaces[%zu]", i), "must be an object");
      if (get_string (it, "type", np, true, &type, err) < 0
          || get_string (it, "path", np, false, &path, err) < 0)
        return -1;
      for (size_t k = 0; k < sizeof ns_names / sizeof ns_names[0]; k++)
        if (strcmp (ns_names[k].name, type) == 0)
          flag = ns_names[k].flag;
      if (flag == 0)
        return bad (err, P ("%stype", np), "unknown namespace type \"%s\"", type);
      if (cfg->ns_flags & flag)
        return bad (err, P ("%stype", np), "namespace \"%s\" is listed twice", type);
      if (path && path[0] != '/')
        return bad (err, P ("%spath", np), "must be an absolute path");
      if (i >= sizeof cfg->ns / sizeof cfg->ns[0])
        return bad (err, "linux.namespaces", "too many entries");
      cfg->ns[i].flag = flag;
      cfg->ns[i].path = path && path[0] ? path : NULL;
      cfg->ns_flags |= flag;
      if (cfg->ns[i].path == NULL)
        cfg->new_ns_flags |= flag;
      i++;
    }
  cfg->n_ns = i;

  if (parse_idmaps (lin, "uidMappings", cfg->uid_maps, &cfg->n_uid_maps, err) < 0
      || parse_idmaps (lin, "gidMappings", cfg->gid_maps, &cfg->n_gid_maps, err) < 0)
    return -1;
  if ((cfg->n_uid_maps || cfg->n_gid_maps) && !(cfg->new_ns_flags & CLONE_NEWUSER))
    return bad (err, "linux.uidMappings",
                "mappings need a new user namespace in "
                "linux.namespaces");
  if ((cfg->new_ns_flags & CLONE_NEWUSER) && (cfg->n_uid_maps == 0 || cfg->n_gid_maps == 0))
    return bad (err, "linux.uidMappings", "a new user namespace needs uidMappings and gidMappings");

  if (parse_devices (lin, cfg, err) < 0)
    return -1;
  if (get_string (lin, "cgroupsPath", "linux.", false, &cfg->cgroups_path, err) < 0)
    return -1;
  if (get_object (lin, "resources", "linux.", &o, err) < 0)
    return -1;
  if (o)
    {
      if (oci_resources_parse (o, "linux.resources.", &cfg->res, err) < 0)
        return -1;
      cfg->has_resources = true;
    }
  if (get_strv (lin, "maskedPaths", "linux.", &cfg->masked, &cfg->n_masked, err) < 0
      || get_strv (lin, "readonlyPaths", "linux.", &cfg->readonly, &cfg->n_readonly, err) < 0)
    return -1;
  for (i = 0; i < cfg->n_masked; i++)
    if (cfg->masked[i][0] != '/')
      return bad (err, P ("linux.maskedPaths[%zu]", i), "must be an absolute path");
  for (i = 0; i < cfg->n_readonly; i++)
    if (cfg->readonly[i][0] != '/')
      return bad (err, P ("linux.readonlyPaths[%zu]", i), "must be an absolute path");

  if (get_object (lin, "sysctl", "linux.", &o, err) < 0)
    return -1;
  if (o)
    {
      size_t n = (size_t) cJSON_GetArraySize (o);
      cfg->sysctl_keys = ar_alloc ((n + 1) * sizeof (char *));
      cfg->sysctl_values = ar_alloc ((n + 1) * sizeof (char *));
      i = 0;
      cJSON_ArrayForEach (it, o)
      {
        const char *why;
        const char *k = it->string;
        if (!cJSON_IsString (it))
          return bad (err, P ("linux.sysctl.%s", k), "must be a string");
        if (k[0] == '\0' || strstr (k, "..") || strchr (k, '/') || k[0] == '.')
          return bad (err, P ("linux.sysctl.%s", k), "not a sysctl name");
        if (!sysctl_namespaced (k, cfg->ns_flags, &why))
          return bad (err, P ("linux.sysctl.%s", k),
                      why ? "needs %s in linux.namespaces" : "not a namespaced sysctl%s",
                      why ? why : "");
        for (const char *c = it->valuestring; *c; c++)
          if ((unsigned char) *c < 0x20 && *c != '\t')
            return bad (err, P ("linux.sysctl.%s", k), "the value holds a control character");
        cfg->sysctl_keys[i] = k;
        cfg->sysctl_values[i] = it->valuestring;
        i++;
      }
      cfg->n_sysctl = i;
    }

  if (get_string (lin, "rootfsPropagation", "linux.", false, &prop, err) < 0)
    return -1;
  if (prop && prop[0])
    {
      /* As runc: the r forms are recursive, the others are for / alone.  */
      bool found = false;
      for (size_t k = 0; k < sizeof prop_opts / sizeof prop_opts[0]; k++)
        if (strcmp (prop, prop_opts[k].name) == 0)
          {
            cfg->rootfs_propagation = prop_opts[k].flag | (prop_opts[k].recursive ? MS_REC : 0);
            found = true;
          }
      if (!found)
        return bad (err, "linux.rootfsPropagation",
                    "must be shared, slave, private or unbindable, or their r forms (got "
                    "\"%s\")",
                    prop);
    }

  o = field (lin, "seccomp");
  if (o && !cJSON_IsNull (o))
    {
      if (!cJSON_IsObject (o))
        return bad (err, "linux.seccomp", "must be an object");
      cfg->seccomp = (cJSON *) o;
    }
  return 0;
}

int
oci_config_parse (const char *text, const char *bundle, struct oci_config *cfg,
                  struct tr_error *err)
{
  cJSON *root;
  const cJSON *o;
  const char *rp = NULL;

  memset (cfg, 0, sizeof *cfg);
  root = cJSON_Parse (text);
  if (root == NULL)
    {
      const char *at = cJSON_GetErrorPtr ();
      int line = 1;
      for (const char *c = text; at && c < at; c++)
        line += *c == '\n';
      return tr_fail (err, 0, "config.json: invalid JSON near line %d: \"%.20s\"", line,
                      at ? at : "");
    }
  ar_track_json (root);
  if (!cJSON_IsObject (root))
    return tr_fail (err, 0, "config.json: the top level must be an object");
  cfg->json = root;
  cfg->bundle = bundle;
  if (get_string (root, "ociVersion", "", false, &cfg->oci_version, err) < 0)
    return -1;
  /* The spec: REQUIRED, in SemVer v2.0.0 format.  */
  if (cfg->oci_version == NULL)
    return bad (err, "ociVersion", "is required (e.g. \"1.0.2\")");
  if (!is_semver (cfg->oci_version))
    return bad (err, "ociVersion", "\"%s\" is not a SemVer 2.0.0 version (e.g. \"1.0.2\")",
                cfg->oci_version);

  if (get_object (root, "root", "", &o, err) < 0)
    return -1;
  if (o == NULL)
    return bad (err, "root", "is required");
  if (get_string (o, "path", "root.", true, &rp, err) < 0
      || get_bool (o, "readonly", "root.", &cfg->root_readonly, err) < 0)
    return -1;
  if (rp[0] == '\0')
    return bad (err, "root.path", "must not be empty");
  cfg->root_path = rp[0] == '/' ? rp : P ("%s/%s", bundle, rp);

  o = field (root, "process");
  if (o && !cJSON_IsNull (o))
    {
      if (oci_process_parse (o, "process.", &cfg->process, err) < 0)
        return -1;
      cfg->has_process = true;
    }
  if (get_string (root, "hostname", "", false, &cfg->hostname, err) < 0
      || get_string (root, "domainname", "", false, &cfg->domainname, err) < 0)
    return -1;
  if (parse_mounts (root, bundle, cfg, err) < 0 || parse_hooks (root, cfg, err) < 0
      || parse_linux (root, cfg, err) < 0)
    return -1;
  if ((cfg->hostname && cfg->hostname[0]) && !(cfg->ns_flags & CLONE_NEWUTS))
    return bad (err, "hostname", "setting the hostname needs a UTS namespace in linux.namespaces");
  if (get_object (root, "annotations", "", &o, err) < 0)
    return -1;
  if (o)
    {
      const cJSON *it;
      cJSON_ArrayForEach (it, o)
      {
        if (!cJSON_IsString (it))
          return bad (err, P ("annotations.%s", it->string), "must be a string");
      }
      cfg->annotations = (cJSON *) o;
    }
  return 0;
}

int
oci_config_load (const char *bundle, const char *config_path, struct oci_config *cfg,
                 struct tr_error *err)
{
  const char *path = config_path ? config_path : ar_printf ("%s/config.json", bundle);
  char *text = NULL;
  char *copy;
  int r;

  if (read_whole_file (path, 16 << 20, &text, NULL, err) < 0)
    {
      if (err->errnum == ENOENT && config_path == NULL)
        return tr_fail (err, 0, "JSON specification file config.json not found in bundle %s",
                        bundle);
      return -1;
    }
  copy = ar_strdup (text);
  free (text);
  r = oci_config_parse (copy, bundle, cfg, err);
  return r;
}
