/* Seccomp: the profiles are readable text files in policy/seccomp/
 * built into the binary; this file compiles them with libseccomp into a BPF
 * program, caches the result on disk and installs it.
 *
 * Compilation runs in the parent, before clone, so the child only has to
 * call seccomp(2) as its last setup step.  The cache is keyed by this
 * binary's build id and the profile text: a different binary or profile
 * never reuses an entry.  It is only trusted when owned by us and not
 * writable by anyone else.
 *
 * Every filter kills foreign architectures (i386 via int 0x80) with
 * KILL_PROCESS, and libseccomp routes x32 syscall numbers to the same
 * bad-arch action in an x86_64-only filter.  */
#define _GNU_SOURCE
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/internal.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

extern const char tr_policy_vm[], tr_policy_vm_end[];
extern const char tr_policy_vm_jit[], tr_policy_vm_jit_end[];
extern const char tr_policy_native[], tr_policy_native_end[];

#define CACHE_MAGIC "TRSECCMP"
#define CACHE_VERSION 1

struct cache_header
{
  char magic[8];
  uint32_t version;
  uint32_t n_insns;
  uint8_t build_id[32];
  uint64_t profile_hash;
};

struct named_value
{
  const char *name;
  uint64_t value;
};

static const struct named_value constants[] = {
  { "PROT_READ", PROT_READ },         { "PROT_WRITE", PROT_WRITE },
  { "PROT_EXEC", PROT_EXEC },         { "S_ISUID", S_ISUID },
  { "S_ISGID", S_ISGID },             { "AF_UNIX", AF_UNIX },
  { "AF_INET", AF_INET },             { "AF_INET6", AF_INET6 },
  { "AF_NETLINK", AF_NETLINK },       { "AF_PACKET", AF_PACKET },
  { "SOCK_STREAM", SOCK_STREAM },     { "SOCK_DGRAM", SOCK_DGRAM },
  { "SOCK_RAW", SOCK_RAW },           { "CLONE_NEWNS", CLONE_NEWNS },
  { "CLONE_NEWUTS", CLONE_NEWUTS },   { "CLONE_NEWIPC", CLONE_NEWIPC },
  { "CLONE_NEWUSER", CLONE_NEWUSER }, { "CLONE_NEWPID", CLONE_NEWPID },
  { "CLONE_NEWNET", CLONE_NEWNET },   { "CLONE_NEWCGROUP", CLONE_NEWCGROUP },
  { "CLONE_NEWTIME", CLONE_NEWTIME }, { "TCGETS", TCGETS },
  { "TCSETS", TCSETS },               { "TCSETSW", TCSETSW },
  { "TCSETSF", TCSETSF },             { "TIOCGWINSZ", TIOCGWINSZ },
  { "TIOCSWINSZ", TIOCSWINSZ },       { "TIOCGPGRP", TIOCGPGRP },
  { "TIOCSPGRP", TIOCSPGRP },         { "TIOCSCTTY", TIOCSCTTY },
  { "TIOCGPTN", TIOCGPTN },           { "TIOCSPTLCK", TIOCSPTLCK },
  { "TIOCSTI", TIOCSTI },             { "FIONREAD", FIONREAD },
  { "FIONBIO", FIONBIO },             { "FIOCLEX", FIOCLEX },
  { "FIONCLEX", FIONCLEX },
};

static const struct named_value errnos[] = {
  { "EPERM", EPERM }, { "EACCES", EACCES }, { "ENOSYS", ENOSYS }, { "EINVAL", EINVAL },
};

const char *
seccomp_profile_name (enum sandbox_seccomp which)
{
  switch (which)
    {
    case SANDBOX_SECCOMP_VM:
      return "vm";
    case SANDBOX_SECCOMP_VM_JIT:
      return "vm-jit";
    case SANDBOX_SECCOMP_NATIVE:
      return "native";
    default:
      return "?";
    }
}

/* The profile texts that make up WHICH, in order.  */
static int
profile_parts (enum sandbox_seccomp which, const char *parts[2], size_t lens[2])
{
  switch (which)
    {
    case SANDBOX_SECCOMP_VM_JIT:
      parts[1] = tr_policy_vm_jit;
      lens[1] = (size_t) (tr_policy_vm_jit_end - tr_policy_vm_jit);
      /* fall through */
    case SANDBOX_SECCOMP_VM:
      parts[0] = tr_policy_vm;
      lens[0] = (size_t) (tr_policy_vm_end - tr_policy_vm);
      return which == SANDBOX_SECCOMP_VM ? 1 : 2;
    case SANDBOX_SECCOMP_NATIVE:
      parts[0] = tr_policy_native;
      lens[0] = (size_t) (tr_policy_native_end - tr_policy_native);
      return 1;
    default:
      return 0;
    }
}

const char *
seccomp_profile_text (enum sandbox_seccomp which, size_t *len)
{
  const char *parts[2];
  size_t lens[2];
  int n = profile_parts (which, parts, lens);

  *len = n ? lens[0] : 0;
  return n ? parts[0] : NULL;
}

static int
parse_value (const char *tok, uint64_t *out)
{
  cleanup_free char *copy = strdup (tok);
  char *save = NULL, *part;

  if (copy == NULL)
    return -1;
  *out = 0;
  for (part = strtok_r (copy, "|", &save); part; part = strtok_r (NULL, "|", &save))
    {
      char *end;
      uint64_t v = strtoull (part, &end, 0);
      if (end == part || *end != '\0')
        {
          size_t i;
          for (i = 0; i < sizeof constants / sizeof constants[0]; i++)
            if (strcmp (constants[i].name, part) == 0)
              break;
          if (i == sizeof constants / sizeof constants[0])
            return -1;
          v = constants[i].value;
        }
      *out |= v;
    }
  return 0;
}

static int
parse_action (const char *tok, uint32_t *action)
{
  if (strcmp (tok, "allow") == 0)
    *action = SCMP_ACT_ALLOW;
  else if (strcmp (tok, "kill_process") == 0)
    *action = SCMP_ACT_KILL_PROCESS;
  else if (strcmp (tok, "kill_thread") == 0)
    *action = SCMP_ACT_KILL_THREAD;
  else if (strcmp (tok, "trap") == 0)
    *action = SCMP_ACT_TRAP;
  else if (strcmp (tok, "log") == 0)
    *action = SCMP_ACT_LOG;
  else if (strncmp (tok, "errno(", 6) == 0 && tok[strlen (tok) - 1] == ')')
    {
      char name[32];
      size_t len = strlen (tok) - 7;
      if (len == 0 || len >= sizeof name)
        return -1;
      memcpy (name, tok + 6, len);
      name[len] = '\0';
      for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
        if (strcmp (errnos[i].name, name) == 0)
          {
            *action = SCMP_ACT_ERRNO (errnos[i].value);
            return 0;
          }
      if (!isdigit ((unsigned char) name[0]))
        return -1;
      *action = SCMP_ACT_ERRNO (atoi (name));
    }
  else
    return -1;
  return 0;
}

static int
parse_op (const char *tok, enum scmp_compare *op)
{
  static const struct
  {
    const char *s;
    enum scmp_compare op;
  } ops[] = { { "==", SCMP_CMP_EQ }, { "!=", SCMP_CMP_NE }, { "<", SCMP_CMP_LT },
              { "<=", SCMP_CMP_LE }, { ">", SCMP_CMP_GT },  { ">=", SCMP_CMP_GE } };

  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (strcmp (tok, ops[i].s) == 0)
      {
        *op = ops[i].op;
        return 0;
      }
  return -1;
}

#define MAX_TOKENS 64
#define MAX_CONDS 6

/* "argN OP V" or "argN & M == V", starting at tok[i]; advances *i.  */
static int
parse_cond (char **tok, int n, int *i, struct scmp_arg_cmp *cmp)
{
  uint64_t a, b = 0;
  enum scmp_compare op;
  unsigned arg;

  if (*i + 2 >= n || sscanf (tok[*i], "arg%u", &arg) != 1 || arg > 5)
    return -1;
  if (strcmp (tok[*i + 1], "&") == 0)
    {
      if (*i + 4 >= n || parse_value (tok[*i + 2], &a) < 0 || strcmp (tok[*i + 3], "==") != 0
          || parse_value (tok[*i + 4], &b) < 0)
        return -1;
      *cmp = (struct scmp_arg_cmp){ arg, SCMP_CMP_MASKED_EQ, a, b };
      *i += 5;
      return 0;
    }
  if (parse_op (tok[*i + 1], &op) < 0 || parse_value (tok[*i + 2], &a) < 0)
    return -1;
  *cmp = (struct scmp_arg_cmp){ arg, op, a, 0 };
  *i += 3;
  return 0;
}

static int
compile_line (scmp_filter_ctx ctx, char *line, const char *profile, int lineno, bool *have_default,
              struct tr_error *err)
{
  char *tok[MAX_TOKENS], *save = NULL;
  struct scmp_arg_cmp conds[MAX_CONDS];
  int n = 0, nconds = 0, first_cond = -1;
  uint32_t action;

  for (char *t = strtok_r (line, " \t", &save); t; t = strtok_r (NULL, " \t", &save))
    {
      if (n == MAX_TOKENS)
        return tr_fail (err, 0, "seccomp profile %s line %d: too many words", profile, lineno);
      tok[n++] = t;
    }
  if (n == 0)
    return 0;
  if (strcmp (tok[0], "default") == 0)
    {
      /* Handled when the context is created.  */
      *have_default = true;
      return 0;
    }
  if (parse_action (tok[0], &action) < 0)
    return tr_fail (err, 0, "seccomp profile %s line %d: unknown action '%s'", profile, lineno, tok[0]);
  for (int i = 1; i < n; i++)
    if (strcmp (tok[i], "if") == 0)
      {
        first_cond = i;
        break;
      }
  if (first_cond > 0)
    for (int i = first_cond + 1; i < n;)
      {
        if (nconds == MAX_CONDS || parse_cond (tok, n, &i, &conds[nconds++]) < 0)
          return tr_fail (err, 0, "seccomp profile %s line %d: bad condition", profile, lineno);
        if (i < n && strcmp (tok[i++], "and") != 0)
          return tr_fail (err, 0, "seccomp profile %s line %d: expected 'and'", profile, lineno);
      }
  for (int i = 1; i < (first_cond > 0 ? first_cond : n); i++)
    {
      int nr = seccomp_syscall_resolve_name (tok[i]);
      int r;
      if (nr == __NR_SCMP_ERROR)
        return tr_fail (err, 0, "seccomp profile %s line %d: unknown syscall '%s'", profile,
                        lineno, tok[i]);
      if (nr < 0)
        continue; /* does not exist on this architecture */
      r = seccomp_rule_add_array (ctx, action, nr, (unsigned) nconds, conds);
      if (r < 0)
        return tr_fail (err, -r, "seccomp profile %s line %d: add rule for %s", profile, lineno,
                        tok[i]);
    }
  return 0;
}

static int
default_action (const char *text, size_t len, uint32_t *action)
{
  const char *p = text;

  while (p < text + len)
    {
      const char *eol = memchr (p, '\n', (size_t) (text + len - p));
      size_t l = eol ? (size_t) (eol - p) : (size_t) (text + len - p);
      if (l > 8 && strncmp (p, "default ", 8) == 0)
        {
          char tok[64];
          if (l - 8 >= sizeof tok)
            return -1;
          memcpy (tok, p + 8, l - 8);
          tok[l - 8] = '\0';
          tok[strcspn (tok, " \t#")] = '\0';
          return parse_action (tok, action);
        }
      p += l + 1;
    }
  return -1;
}

/* Compile profile texts into CTX.  Exposed for the profile fuzzer/tests.  */
static int
compile_text (scmp_filter_ctx ctx, const char *name, const char *text, size_t len, struct tr_error *err)
{
  cleanup_free char *copy = strndup (text, len);
  char *save = NULL, *line;
  int lineno = 0;
  bool have_default = false;

  if (copy == NULL)
    return tr_fail (err, ENOMEM, "seccomp profile %s", name);
  /* strtok_r skips empty lines, so count them by hand.  */
  for (line = copy; line; line = save)
    {
      save = strchr (line, '\n');
      if (save)
        *save++ = '\0';
      lineno++;
      line[strcspn (line, "#")] = '\0';
      if (compile_line (ctx, line, name, lineno, &have_default, err) < 0)
        return -1;
    }
  (void) have_default;
  return 0;
}

int
export_bpf (scmp_filter_ctx ctx, struct seccomp_program *out, struct tr_error *err)
{
  cleanup_close int fd = memfd_create ("seccomp-bpf", MFD_CLOEXEC);
  struct stat st;
  void *buf;
  int r;

  if (fd < 0)
    return tr_fail (err, errno, "seccomp: memfd");
  r = seccomp_export_bpf (ctx, fd);
  if (r < 0)
    return tr_fail (err, -r, "seccomp: export BPF");
  if (fstat (fd, &st) < 0 || st.st_size == 0 || st.st_size % sizeof (struct sock_filter) != 0)
    return tr_fail (err, errno, "seccomp: exported BPF has a bad size");
  buf = malloc ((size_t) st.st_size);
  if (buf == NULL)
    return tr_fail (err, ENOMEM, "seccomp");
  if (pread (fd, buf, (size_t) st.st_size, 0) != st.st_size)
    {
      free (buf);
      return tr_fail (err, errno, "seccomp: read exported BPF");
    }
  out->prog.filter = buf;
  out->prog.len = (unsigned short) (st.st_size / sizeof (struct sock_filter));
  return 0;
}

int
seccomp_program_compile (enum sandbox_seccomp which, struct seccomp_program *out,
                         struct tr_error *err)
{
  const char *parts[2];
  size_t lens[2];
  int nparts = profile_parts (which, parts, lens);
  uint32_t def;
  scmp_filter_ctx ctx;
  int r = -1;

  memset (out, 0, sizeof *out);
  if (nparts == 0 || default_action (parts[0], lens[0], &def) < 0)
    return tr_fail (err, 0, "seccomp profile %s: missing or bad 'default' line",
                    seccomp_profile_name (which));
  ctx = seccomp_init (def);
  if (ctx == NULL)
    return tr_fail (err, ENOMEM, "seccomp: init");
  if (seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0
      || seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0) < 0)
    {
      tr_fail (err, 0, "seccomp: set filter attributes");
      goto out;
    }
  for (int i = 0; i < nparts; i++)
    if (compile_text (ctx, seccomp_profile_name (which), parts[i], lens[i], err) < 0)
      goto out;
  r = export_bpf (ctx, out, err);
out:
  seccomp_release (ctx);
  return r;
}

void
seccomp_program_free (struct seccomp_program *p)
{
  free (p->prog.filter);
  p->prog.filter = NULL;
  p->prog.len = 0;
}

int
seccomp_program_load (const struct seccomp_program *p, struct tr_error *err)
{
  if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p->prog) < 0)
    return tr_fail (err, errno, "seccomp: install the filter");
  return 0;
}

/* ---- the cache ---- */

static int
find_build_id (struct dl_phdr_info *info, size_t size, void *data)
{
  uint8_t *out = data;
  (void) size;

  /* The first object is the executable itself.  */
  for (int i = 0; i < info->dlpi_phnum; i++)
    {
      const ElfW (Phdr) *ph = &info->dlpi_phdr[i];
      const char *p, *end;
      if (ph->p_type != PT_NOTE)
        continue;
      p = (const char *) (info->dlpi_addr + ph->p_vaddr);
      end = p + ph->p_memsz;
      while (p + sizeof (ElfW (Nhdr)) <= end)
        {
          const ElfW (Nhdr) *nh = (const void *) p;
          const char *desc = p + sizeof *nh + ((nh->n_namesz + 3) & ~3u);
          if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp (p + sizeof *nh, "GNU", 4) == 0)
            {
              memcpy (out, desc, nh->n_descsz < 32 ? nh->n_descsz : 32);
              return 1;
            }
          p = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
  return 1;
}

static uint64_t
profile_hash (enum sandbox_seccomp which)
{
  const char *parts[2];
  size_t lens[2];
  int n = profile_parts (which, parts, lens);
  uint64_t h = 1469598103934665603ull;

  for (int i = 0; i < n; i++)
    for (size_t j = 0; j < lens[i]; j++)
      h = (h ^ (uint8_t) parts[i][j]) * 1099511628211ull;
  return h;
}

static void
make_header (enum sandbox_seccomp which, struct cache_header *h)
{
  memset (h, 0, sizeof *h);
  memcpy (h->magic, CACHE_MAGIC, 8);
  h->version = CACHE_VERSION;
  dl_iterate_phdr (find_build_id, h->build_id);
  h->profile_hash = profile_hash (which);
}

static bool
cache_dir (char *out, size_t size)
{
  const char *xdg = getenv ("XDG_CACHE_HOME"), *home = getenv ("HOME");
  const char *env = getenv ("TACTUS_RUN_CACHE_DIR");

  if (env && *env)
    snprintf (out, size, "%s", env);
  else if (geteuid () == 0)
    snprintf (out, size, "/var/cache/tactus-run");
  else if (xdg && *xdg == '/')
    snprintf (out, size, "%s/tactus-run", xdg);
  else if (home && *home == '/')
    snprintf (out, size, "%s/.cache/tactus-run", home);
  else
    return false;
  return true;
}

/* Only trust a directory that is ours and that nobody else can write.  */
static bool
cache_dir_trusted (const char *dir)
{
  struct stat st;
  return stat (dir, &st) == 0 && S_ISDIR (st.st_mode) && st.st_uid == geteuid ()
         && (st.st_mode & 022) == 0;
}

static int
cache_read (const char *dir, enum sandbox_seccomp which, struct seccomp_program *out)
{
  char path[600];
  struct cache_header want, got;
  cleanup_close int fd = -1;
  struct stat st;
  void *buf;
  size_t size;

  snprintf (path, sizeof path, "%s/%s.bpf", dir, seccomp_profile_name (which));
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -1;
  if (fstat (fd, &st) < 0 || st.st_uid != geteuid () || (st.st_mode & 022) != 0)
    return -2;
  make_header (which, &want);
  if (read (fd, &got, sizeof got) != sizeof got || memcmp (&want, &got, offsetof (struct cache_header, n_insns)) != 0
      || memcmp (want.build_id, got.build_id, sizeof want.build_id) != 0
      || want.profile_hash != got.profile_hash || got.n_insns == 0 || got.n_insns > BPF_MAXINSNS)
    return -2;
  size = got.n_insns * sizeof (struct sock_filter);
  if ((size_t) st.st_size != sizeof got + size)
    return -2;
  buf = malloc (size);
  if (buf == NULL)
    return -1;
  if (read (fd, buf, size) != (ssize_t) size)
    {
      free (buf);
      return -2;
    }
  out->prog.filter = buf;
  out->prog.len = (unsigned short) got.n_insns;
  return 0;
}

static int
cache_write (const char *dir, enum sandbox_seccomp which, const struct seccomp_program *p)
{
  char path[600], tmp[640];
  struct cache_header h;
  cleanup_close int fd = -1;
  size_t size = p->prog.len * sizeof (struct sock_filter);

  make_header (which, &h);
  h.n_insns = p->prog.len;
  snprintf (path, sizeof path, "%s/%s.bpf", dir, seccomp_profile_name (which));
  snprintf (tmp, sizeof tmp, "%s.%d.tmp", path, (int) getpid ());
  fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return -1;
  if (write (fd, &h, sizeof h) != sizeof h || write (fd, p->prog.filter, size) != (ssize_t) size
      || rename (tmp, path) < 0)
    {
      unlink (tmp);
      return -1;
    }
  return 0;
}

int
seccomp_program_get (enum sandbox_seccomp which, struct seccomp_program *out, struct tr_error *err)
{
  char dir[512];
  bool have_dir = cache_dir (dir, sizeof dir);
  bool trusted = have_dir && cache_dir_trusted (dir);

  memset (out, 0, sizeof *out);
  if (trusted && cache_read (dir, which, out) == 0)
    return 0;
  if (seccomp_program_compile (which, out, err) < 0)
    return -1;
  if (have_dir && !trusted && mkdir (dir, 0700) == 0)
    trusted = cache_dir_trusted (dir);
  if (trusted)
    cache_write (dir, which, out);
  return 0;
}

int
seccomp_cache_inspect (struct seccomp_cache_state *st)
{
  memset (st, 0, sizeof *st);
  if (!cache_dir (st->dir, sizeof st->dir))
    return 0;
  st->dir_usable = cache_dir_trusted (st->dir);
  for (int w = 0; w < SANDBOX_SECCOMP__COUNT; w++)
    {
      struct seccomp_program p = { 0 };
      int r = st->dir_usable ? cache_read (st->dir, (enum sandbox_seccomp) w, &p) : -1;
      if (r == 0)
        st->valid++;
      else if (r == -2)
        st->stale++;
      else
        st->missing++;
      seccomp_program_free (&p);
    }
  return 0;
}

int
seccomp_cache_rebuild (bool force, int *written, struct tr_error *err)
{
  char dir[512];

  *written = 0;
  if (!cache_dir (dir, sizeof dir))
    return tr_fail (err, 0, "seccomp cache: no cache directory (set HOME or XDG_CACHE_HOME)");
  if (mkdir (dir, 0700) < 0 && errno != EEXIST)
    return tr_fail (err, errno, "seccomp cache: create %s", dir);
  if (!cache_dir_trusted (dir))
    return tr_fail (err, 0, "seccomp cache: %s must be a directory owned by us and writable by no "
                            "one else (fix its owner/mode or remove it)", dir);
  for (int w = 0; w < SANDBOX_SECCOMP__COUNT; w++)
    {
      struct seccomp_program p = { 0 };
      if (!force && cache_read (dir, (enum sandbox_seccomp) w, &p) == 0)
        {
          seccomp_program_free (&p);
          continue;
        }
      if (seccomp_program_compile ((enum sandbox_seccomp) w, &p, err) < 0)
        return -1;
      if (cache_write (dir, (enum sandbox_seccomp) w, &p) < 0)
        {
          seccomp_program_free (&p);
          return tr_fail (err, errno, "seccomp cache: write %s/%s.bpf", dir,
                          seccomp_profile_name ((enum sandbox_seccomp) w));
        }
      seccomp_program_free (&p);
      (*written)++;
    }
  return 0;
}
