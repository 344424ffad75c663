/* The seccomp programs built into tactus-run deny what the profiles say.
 *
 * Running a syscall in a cage cannot tell the filter's EPERM from the
 * kernel's own refusal (an unprivileged user namespace is already refused
 * bpf, kexec, modules...), so a shrinking deny list would go unnoticed.
 * This test runs the built-in BPF programs themselves, with a small
 * classic-BPF interpreter, on synthetic seccomp_data:
 *   - every syscall the native profile lists as "Deliberately absent" is
 *     not allowed by any of the three programs, whatever its arguments;
 *   - the VM programs also refuse sockets, ioctl, exec, clone and ptrace,
 *     and every system call that takes a path (the VM's files come from
 *     the broker as open descriptors): each one of a list is refused, and
 *     every syscall number the programs allow is one of a short list of
 *     calls that name no file;
 *   - an i386 syscall (int 0x80) and an x32 syscall number are killed;
 *   - controls: read is allowed, so the interpreter is not vacuous;
 *   - native: no unix datagram socket (nor pair); the filters stacked on
 *     it: native-nounix refuses every AF_UNIX socket (EACCES) and nothing
 *     else, supervise-* send exactly the name-creating calls (open only
 *     with O_CREAT) and connect to the supervisor;
 *   - each built-in program is identical to the profile compiled now.  */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/internal.h"

static int failures, passes;

static void check (bool ok, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
check (bool ok, const char *fmt, ...)
{
  va_list ap;

  printf ("%s: ", ok ? "PASS" : "FAIL");
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  printf ("\n");
  if (ok)
    passes++;
  else
    failures++;
}

/* Classic BPF as the kernel runs a seccomp filter.  Returns the filter's
 * return value, or 0xdeadbeef for an instruction it does not know (which
 * fails the test rather than guessing).  */
static uint32_t
run_bpf (const struct sock_fprog *prog, const struct seccomp_data *d)
{
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };
  const unsigned char *data = (const unsigned char *) d;

  for (unsigned pc = 0; pc < prog->len; pc++)
    {
      const struct sock_filter *f = &prog->filter[pc];
      uint32_t src = BPF_SRC (f->code) == BPF_X ? x : f->k;
      switch (f->code)
        {
        case BPF_LD | BPF_W | BPF_ABS:
          if (f->k + 4 > sizeof *d)
            return 0xdeadbeef;
          memcpy (&a, data + f->k, 4);
          continue;
        case BPF_LD | BPF_W | BPF_MEM:
          a = mem[f->k % BPF_MEMWORDS];
          continue;
        case BPF_LDX | BPF_W | BPF_MEM:
          x = mem[f->k % BPF_MEMWORDS];
          continue;
        case BPF_ST:
          mem[f->k % BPF_MEMWORDS] = a;
          continue;
        case BPF_STX:
          mem[f->k % BPF_MEMWORDS] = x;
          continue;
        case BPF_MISC | BPF_TAX:
          x = a;
          continue;
        case BPF_MISC | BPF_TXA:
          a = x;
          continue;
        case BPF_RET | BPF_K:
          return f->k;
        case BPF_RET | BPF_A:
          return a;
        case BPF_JMP | BPF_JA:
          pc += f->k;
          continue;
        default:
          break;
        }
      if (BPF_CLASS (f->code) == BPF_ALU)
        {
          switch (BPF_OP (f->code))
            {
            case BPF_AND:
              a &= src;
              continue;
            case BPF_OR:
              a |= src;
              continue;
            case BPF_ADD:
              a += src;
              continue;
            case BPF_SUB:
              a -= src;
              continue;
            case BPF_RSH:
              a >>= src;
              continue;
            case BPF_LSH:
              a <<= src;
              continue;
            default:
              return 0xdeadbeef;
            }
        }
      if (BPF_CLASS (f->code) == BPF_JMP)
        {
          bool t;
          switch (BPF_OP (f->code))
            {
            case BPF_JEQ:
              t = a == src;
              break;
            case BPF_JGT:
              t = a > src;
              break;
            case BPF_JGE:
              t = a >= src;
              break;
            case BPF_JSET:
              t = (a & src) != 0;
              break;
            default:
              return 0xdeadbeef;
            }
          pc += t ? f->jt : f->jf;
          continue;
        }
      return 0xdeadbeef;
    }
  return 0xdeadbeef; /* fell off the end: not a valid filter */
}

/* The action for NR with every argument 0 and with every argument all
 * ones: an allow under any argument pattern counts as allowed.  */
static bool
allowed (const struct sock_fprog *prog, int nr, uint32_t arch)
{
  struct seccomp_data d;

  for (int pattern = 0; pattern < 2; pattern++)
    {
      memset (&d, 0, sizeof d);
      d.nr = nr;
      d.arch = arch;
      for (int i = 0; i < 6; i++)
        d.args[i] = pattern ? ~0ull : 0;
      uint32_t r = run_bpf (prog, &d);
      if ((r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ALLOW || r == 0xdeadbeef)
        return true;
    }
  return false;
}

static uint32_t
action_of (const struct sock_fprog *prog, int nr, uint32_t arch)
{
  struct seccomp_data d;

  memset (&d, 0, sizeof d);
  d.nr = nr;
  d.arch = arch;
  return run_bpf (prog, &d) & SECCOMP_RET_ACTION_FULL;
}

/* The names after "Deliberately absent (EPERM):" in the native profile's
 * comment, up to the full stop.  The profile text is the one built in.  */
static int
absent_list (char names[][32], int max)
{
  size_t len;
  const char *text = seccomp_profile_text (SANDBOX_SECCOMP_NATIVE, &len);
  const char *p = text ? strstr (text, "Deliberately absent (EPERM):") : NULL;
  int n = 0;

  if (p == NULL)
    return 0;
  p += strlen ("Deliberately absent (EPERM):");
  while (*p && *p != '.' && n < max)
    {
      size_t k = 0;
      while (*p && !isalnum ((unsigned char) *p) && *p != '_' && *p != '.')
        p++;
      while ((isalnum ((unsigned char) *p) || *p == '_') && k < 31)
        names[n][k++] = *p++;
      names[n][k] = '\0';
      if (k)
        n++;
    }
  return n;
}

/* x86_64 system calls that take a path (or act on one), by name, and the
 * newer ones an older libseccomp may not know, by number.  */
static const char *const path_calls[] = {
  "open",
  "openat",
  "openat2",
  "creat",
  "stat",
  "lstat",
  "newfstatat",
  "statx",
  "access",
  "faccessat",
  "faccessat2",
  "readlink",
  "readlinkat",
  "mkdir",
  "mkdirat",
  "rmdir",
  "unlink",
  "unlinkat",
  "rename",
  "renameat",
  "renameat2",
  "link",
  "linkat",
  "symlink",
  "symlinkat",
  "chdir",
  "chroot",
  "chmod",
  "fchmodat",
  "chown",
  "lchown",
  "fchownat",
  "truncate",
  "utime",
  "utimes",
  "utimensat",
  "futimesat",
  "mknod",
  "mknodat",
  "getxattr",
  "lgetxattr",
  "setxattr",
  "lsetxattr",
  "listxattr",
  "llistxattr",
  "removexattr",
  "lremovexattr",
  "statfs",
  "execve",
  "execveat",
  "open_by_handle_at",
  "name_to_handle_at",
  "inotify_add_watch",
  "fanotify_mark",
  "mount",
  "umount2",
  "pivot_root",
  "swapon",
  "swapoff",
  "acct",
  "quotactl",
  "uselib",
  "open_tree",
  "move_mount",
  "fsopen",
  "fspick",
  "mount_setattr",
  "bind",
  "connect",
  "memfd_create",
  NULL,
};
static const int path_call_numbers[] = {
  452 /* fchmodat2 */,    457 /* statmount */,    458 /* listmount */,     463 /* setxattrat */,
  464 /* getxattrat */,   465 /* listxattrat */,  466 /* removexattrat */, 467 /* open_tree_attr */,
  468 /* file_getattr */, 469 /* file_setattr */,
};
/* What the VM programs may allow: calls on memory, descriptors it holds,
 * time and its own signals, none of which names a file.  */
static const char *const vm_may_allow[] = {
  "brk",           "munmap",
  "mremap",        "madvise",
  "mmap",          "mprotect",
  "sendmsg",       "recvmsg",
  "sendto",        "recvfrom",
  "poll",          "ppoll",
  "read",          "write",
  "readv",         "writev",
  "pread64",       "pwrite64",
  "lseek",         "close",
  "fcntl",         "fstat",
  "fsync",         "fdatasync",
  "clock_gettime", "clock_getres",
  "gettimeofday",  "time",
  "nanosleep",     "clock_nanosleep",
  "getrandom",     "rt_sigreturn",
  "rt_sigaction",  "rt_sigprocmask",
  "sigaltstack",   "restart_syscall",
  "getpid",        "gettid",
  "tgkill",        "wait4",
  "waitid",        "exit",
  "exit_group",    "futex",
  "sched_yield",   NULL,
};

static void
vm_path_calls (enum sandbox_seccomp which, const struct sock_fprog *prog)
{
  const char *pname = seccomp_profile_name (which);
  int bad = 0, checked = 0, allowed_n = 0;
  char extra[512] = "";

  for (const char *const *s = path_calls; *s; s++)
    {
      int nr = seccomp_syscall_resolve_name (*s);
      if (nr < 0)
        continue;
      checked++;
      if (allowed (prog, nr, AUDIT_ARCH_X86_64))
        {
          check (false, "%s: %s (takes a path) is allowed", pname, *s);
          bad++;
        }
    }
  for (size_t i = 0; i < sizeof path_call_numbers / sizeof path_call_numbers[0]; i++, checked++)
    if (allowed (prog, path_call_numbers[i], AUDIT_ARCH_X86_64))
      {
        check (false, "%s: syscall %d (takes a path) is allowed", pname, path_call_numbers[i]);
        bad++;
      }
  check (bad == 0 && checked >= 70, "%s: all %d system calls that take a path are refused", pname,
         checked);
  /* The other way round: every number the program lets through is known
   * to name no file.  */
  for (int nr = 0; nr < 1024; nr++)
    {
      bool known = false;
      if (!allowed (prog, nr, AUDIT_ARCH_X86_64))
        continue;
      allowed_n++;
      for (const char *const *s = vm_may_allow; *s && !known; s++)
        known = seccomp_syscall_resolve_name (*s) == nr;
      if (!known)
        {
          char *name = seccomp_syscall_resolve_num_arch (SCMP_ARCH_X86_64, nr);
          size_t len = strlen (extra);
          snprintf (extra + len, sizeof extra - len, " %s", name ? name : "?");
          free (name);
        }
    }
  check (extra[0] == '\0' && allowed_n > 20,
         "%s: the %d system calls it allows are all calls that name no file%s%s", pname, allowed_n,
         extra[0] ? "; not:" : "", extra);
}

/* The action for NR with the given arguments.  */
static uint32_t
action_args (const struct sock_fprog *prog, int nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
  struct seccomp_data d;

  memset (&d, 0, sizeof d);
  d.nr = nr;
  d.arch = AUDIT_ARCH_X86_64;
  d.args[0] = a0;
  d.args[1] = a1;
  d.args[2] = a2;
  return run_bpf (prog, &d);
}

static void
native_addons (void)
{
  struct seccomp_program native, nounix, create, connect, all;
  struct tr_error err;
  int sock = seccomp_syscall_resolve_name ("socket");
  int pair = seccomp_syscall_resolve_name ("socketpair");
  const int notif = (int) SECCOMP_RET_USER_NOTIF;
  static const char *const names[]
      = { "mkdir",  "mkdirat",  "symlink",   "symlinkat", "link", "linkat",
          "rename", "renameat", "renameat2", "creat",     NULL };

  if (seccomp_program_get (SANDBOX_SECCOMP_NATIVE, &native, &err) < 0
      || seccomp_program_get ((enum sandbox_seccomp) SECCOMP_ADDON_NOUNIX, &nounix, &err) < 0
      || seccomp_program_get ((enum sandbox_seccomp) SECCOMP_ADDON_SUPERVISE_CREATE, &create, &err)
             < 0
      || seccomp_program_get ((enum sandbox_seccomp) SECCOMP_ADDON_SUPERVISE_CONNECT, &connect,
                              &err)
             < 0
      || seccomp_program_get ((enum sandbox_seccomp) SECCOMP_ADDON_SUPERVISE_ALL, &all, &err) < 0)
    {
      check (false, "native add-ons: %s", err.msg);
      return;
    }
  for (int w = SANDBOX_SECCOMP__COUNT; w < SECCOMP_PROGRAMS__COUNT; w++)
    {
      struct seccomp_check c;
      check (seccomp_builtin_verify ((enum sandbox_seccomp) w, &c, &err) == 0 && c.match,
             "%s: built-in program identical to the profile compiled now",
             seccomp_profile_name ((enum sandbox_seccomp) w));
    }
  check (action_args (&native.prog, sock, AF_UNIX, SOCK_DGRAM, 0) != SECCOMP_RET_ALLOW
             && action_args (&native.prog, sock, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)
                    != SECCOMP_RET_ALLOW
             && action_args (&native.prog, pair, AF_UNIX, SOCK_DGRAM, 0) != SECCOMP_RET_ALLOW,
         "native: no unix datagram socket, not even a pair (sendto could name a path)");
  check (action_args (&native.prog, sock, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)
                 == SECCOMP_RET_ALLOW
             && action_args (&native.prog, pair, AF_UNIX, SOCK_SEQPACKET, 0) == SECCOMP_RET_ALLOW,
         "native: unix stream/seqpacket sockets and pairs (control)");
  check (action_args (&nounix.prog, sock, AF_UNIX, SOCK_STREAM, 0) == (SECCOMP_RET_ERRNO | EACCES)
             && action_args (&nounix.prog, sock, AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0)
                    == (SECCOMP_RET_ERRNO | EACCES)
             && action_args (&nounix.prog, sock, AF_INET, SOCK_STREAM, 0) == SECCOMP_RET_ALLOW
             && action_args (&nounix.prog, pair, AF_UNIX, SOCK_STREAM, 0) == SECCOMP_RET_ALLOW,
         "native-nounix: every AF_UNIX socket is EACCES; IP sockets and pairs pass");
  for (const char *const *n = names; *n; n++)
    check ((action_args (&create.prog, seccomp_syscall_resolve_name (*n), 0, 0, 0)
            & SECCOMP_RET_ACTION_FULL)
                   == (uint32_t) notif
               && (action_args (&all.prog, seccomp_syscall_resolve_name (*n), 0, 0, 0)
                   & SECCOMP_RET_ACTION_FULL)
                      == (uint32_t) notif,
           "supervise-create/all: %s goes to the supervisor", *n);
  check (
      (action_args (&create.prog, seccomp_syscall_resolve_name ("openat"), 0, 0, O_CREAT | O_WRONLY)
       & SECCOMP_RET_ACTION_FULL)
              == (uint32_t) notif
          && action_args (&create.prog, seccomp_syscall_resolve_name ("openat"), 0, 0, O_RDWR)
                 == SECCOMP_RET_ALLOW
          && (action_args (&create.prog, seccomp_syscall_resolve_name ("open"), 0, O_CREAT, 0)
              & SECCOMP_RET_ACTION_FULL)
                 == (uint32_t) notif
          && action_args (&create.prog, seccomp_syscall_resolve_name ("open"), 0, O_RDONLY, 0)
                 == SECCOMP_RET_ALLOW,
      "supervise-create: open/openat go to the supervisor only with O_CREAT");
  check (action_args (&create.prog, seccomp_syscall_resolve_name ("connect"), 0, 0, 0)
                 == SECCOMP_RET_ALLOW
             && (action_args (&connect.prog, seccomp_syscall_resolve_name ("connect"), 0, 0, 0)
                 & SECCOMP_RET_ACTION_FULL)
                    == (uint32_t) notif
             && (action_args (&all.prog, seccomp_syscall_resolve_name ("connect"), 0, 0, 0)
                 & SECCOMP_RET_ACTION_FULL)
                    == (uint32_t) notif
             && action_args (&connect.prog, seccomp_syscall_resolve_name ("mkdir"), 0, 0, 0)
                    == SECCOMP_RET_ALLOW,
         "supervise-connect/all: connect goes to the supervisor, create-only leaves it alone");
}

int
main (void)
{
  static const char *vm_extra[]
      = { "socket", "socketpair", "connect", "ioctl",  "execve", "execveat", "clone",
          "clone3", "fork",       "vfork",   "ptrace", "prctl",  "seccomp",  NULL };
  char names[128][32];
  int n = absent_list (names, 128);
  struct tr_error err;

  check (n >= 60, "the native profile lists %d deliberately absent syscalls (>= 60)", n);
  for (int w = 0; w < SANDBOX_SECCOMP__COUNT; w++)
    {
      enum sandbox_seccomp which = (enum sandbox_seccomp) w;
      const char *pname = seccomp_profile_name (which);
      struct seccomp_program p;
      struct seccomp_check c;
      int bad = 0;

      if (seccomp_program_get (which, &p, &err) < 0)
        {
          check (false, "%s: built-in program: %s", pname, err.msg);
          continue;
        }
      check (seccomp_builtin_verify (which, &c, &err) == 0 && c.match,
             "%s: built-in program (%u insns) identical to the profile compiled now", pname,
             c.builtin_insns);
      check (allowed (&p.prog, seccomp_syscall_resolve_name ("read"), AUDIT_ARCH_X86_64),
             "%s: control: read is allowed", pname);
      for (int i = 0; i < n; i++)
        {
          int nr = seccomp_syscall_resolve_name (names[i]);
          if (nr < 0)
            continue; /* not a syscall on this architecture */
          if (allowed (&p.prog, nr, AUDIT_ARCH_X86_64))
            {
              check (false, "%s: %s is allowed", pname, names[i]);
              bad++;
            }
        }
      check (bad == 0, "%s: all %d deliberately absent syscalls refused", pname, n);
      if (which != SANDBOX_SECCOMP_NATIVE)
        {
          for (const char **s = vm_extra; *s; s++)
            check (!allowed (&p.prog, seccomp_syscall_resolve_name (*s), AUDIT_ARCH_X86_64),
                   "%s: %s refused", pname, *s);
          vm_path_calls (which, &p.prog);
        }
      check (action_of (&p.prog, 3 /* i386 close */, AUDIT_ARCH_I386) == SECCOMP_RET_KILL_PROCESS,
             "%s: an i386 syscall (int 0x80) kills the process", pname);
      check (action_of (&p.prog, 0x40000000 | 0 /* x32 read */, AUDIT_ARCH_X86_64)
                 == SECCOMP_RET_KILL_PROCESS,
             "%s: an x32 syscall kills the process", pname);
      seccomp_program_free (&p);
    }
  native_addons ();
  printf ("%d passed, %d failed\n", passes, failures);
  return failures ? 1 : 0;
}
