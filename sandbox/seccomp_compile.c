/* The seccomp profile compiler: policy/seccomp/NAME.policy (readable text,
 * built into the binary by profiles.S) into classic BPF with libseccomp.
 *
 * It runs at build time (tools/bpfgen.c writes the programs that
 * seccomp.c embeds) and, for checks, in `sandbox status` and `sandbox
 * rebuild`; never on a run's start-up path.  export_bpf is shared with the
 * OCI runtime, which compiles the profile a config.json carries.
 *
 * Every filter kills foreign architectures (i386 via int 0x80) with
 * KILL_PROCESS, and libseccomp routes x32 syscall numbers to the same
 * bad-arch action in an x86_64-only filter.  */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
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
extern const char tr_policy_native_nounix[], tr_policy_native_nounix_end[];
extern const char tr_policy_supervise_create[], tr_policy_supervise_create_end[];
extern const char tr_policy_supervise_connect[], tr_policy_supervise_connect_end[];

struct named_value
{
  const char *name;
  uint64_t value;
};

static const struct named_value constants[] = {
  { "PROT_READ", PROT_READ },
  { "PROT_WRITE", PROT_WRITE },
  { "PROT_EXEC", PROT_EXEC },
  { "S_ISUID", S_ISUID },
  { "S_ISGID", S_ISGID },
  { "AF_UNIX", AF_UNIX },
  { "AF_INET", AF_INET },
  { "AF_INET6", AF_INET6 },
  { "AF_NETLINK", AF_NETLINK },
  { "AF_PACKET", AF_PACKET },
  { "SOCK_STREAM", SOCK_STREAM },
  { "SOCK_DGRAM", SOCK_DGRAM },
  { "SOCK_RAW", SOCK_RAW },
  { "SOCK_SEQPACKET", SOCK_SEQPACKET },
  { "O_CREAT", O_CREAT },
  { "CLONE_NEWNS", CLONE_NEWNS },
  { "CLONE_NEWUTS", CLONE_NEWUTS },
  { "CLONE_NEWIPC", CLONE_NEWIPC },
  { "CLONE_NEWUSER", CLONE_NEWUSER },
  { "CLONE_NEWPID", CLONE_NEWPID },
  { "CLONE_NEWNET", CLONE_NEWNET },
  { "CLONE_NEWCGROUP", CLONE_NEWCGROUP },
  { "CLONE_NEWTIME", CLONE_NEWTIME },
  { "TCGETS", TCGETS },
  { "TCSETS", TCSETS },
  { "TCSETSW", TCSETSW },
  { "TCSETSF", TCSETSF },
  { "TIOCGWINSZ", TIOCGWINSZ },
  { "TIOCSWINSZ", TIOCSWINSZ },
  { "TIOCGPGRP", TIOCGPGRP },
  { "TIOCSPGRP", TIOCSPGRP },
  { "TIOCSCTTY", TIOCSCTTY },
  { "TIOCGPTN", TIOCGPTN },
  { "TIOCSPTLCK", TIOCSPTLCK },
  { "TIOCSTI", TIOCSTI },
  { "FIONREAD", FIONREAD },
  { "FIONBIO", FIONBIO },
  { "FIOCLEX", FIOCLEX },
  { "FIONCLEX", FIONCLEX },
};

static const struct named_value errnos[] = {
  { "EPERM", EPERM },
  { "EACCES", EACCES },
  { "ENOSYS", ENOSYS },
  { "EINVAL", EINVAL },
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
      break;
    }
  switch ((int) which)
    {
    case SECCOMP_ADDON_NOUNIX:
      return "native-nounix";
    case SECCOMP_ADDON_SUPERVISE_CREATE:
      return "supervise-create";
    case SECCOMP_ADDON_SUPERVISE_CONNECT:
      return "supervise-connect";
    case SECCOMP_ADDON_SUPERVISE_ALL:
      return "supervise-all";
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
      break;
    }
  switch ((int) which)
    {
    case SECCOMP_ADDON_NOUNIX:
      parts[0] = tr_policy_native_nounix;
      lens[0] = (size_t) (tr_policy_native_nounix_end - tr_policy_native_nounix);
      return 1;
    case SECCOMP_ADDON_SUPERVISE_ALL:
      parts[1] = tr_policy_supervise_connect;
      lens[1] = (size_t) (tr_policy_supervise_connect_end - tr_policy_supervise_connect);
      /* fall through */
    case SECCOMP_ADDON_SUPERVISE_CREATE:
      parts[0] = tr_policy_supervise_create;
      lens[0] = (size_t) (tr_policy_supervise_create_end - tr_policy_supervise_create);
      return (int) which == SECCOMP_ADDON_SUPERVISE_ALL ? 2 : 1;
    case SECCOMP_ADDON_SUPERVISE_CONNECT:
      parts[0] = tr_policy_supervise_connect;
      lens[0] = (size_t) (tr_policy_supervise_connect_end - tr_policy_supervise_connect);
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
  else if (strcmp (tok, "notify") == 0)
    *action = SCMP_ACT_NOTIFY;
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
    return tr_fail (err, 0, "seccomp profile %s line %d: unknown action '%s'", profile, lineno,
                    tok[0]);
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
        return tr_fail (err, 0, "seccomp profile %s line %d: unknown syscall '%s'", profile, lineno,
                        tok[i]);
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
compile_text (scmp_filter_ctx ctx, const char *name, const char *text, size_t len,
              struct tr_error *err)
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
  if (!p->builtin)
    free (p->prog.filter);
  p->prog.filter = NULL;
  p->prog.len = 0;
}
