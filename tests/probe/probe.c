/* tr-probe: the containment probe that tests/hostile runs inside the cage.
 *
 * A plain program on purpose: no project code and no libraries, so a bug in
 * the project can never make it pass.  Subcommands:
 *
 *   escape --host-ns mnt=ID,uts=ID,pid=ID[,net=ID,...] --host-pid PID
 *          --secret PATH --port N [--expect-fds 0,1,2] [--dev-pts]
 *       Try every escape we know of and print one line per attempt:
 *         PASS: probe NAME: denied (ERRNO or reason)
 *         FAIL: probe NAME: what succeeded
 *       Exit 0 when everything was denied, 1 otherwise, 2 on bad usage or
 *       when run outside a sandbox.  --dev-pts: the cage was started with
 *       --dev-pts, so /dev must also hold pts and ptmx (else it must not).
 *   forkbomb | membomb [MAX_MIB] | mapbomb [MAX_GIB] | cpuloop | diskfill DIR | fdbomb
 *       Exhaust one resource (mapbomb: untouched writable mappings, no
 *       memory used, what RLIMIT_DATA counts); print what happened; exit 0 when the limit
 *       stopped us the expected way, 1 when a safety cap was reached first.
 *
 * Every escape attempt is harmless even if it succeeds: values are written
 * back unchanged, scratch paths are removed, signals are signal 0, a
 * ptrace attach is detached at once, and privileged calls get arguments that
 * are invalid but only checked after the permission check (EPERM means
 * denied; EINVAL and friends mean the permission check passed: FAIL).
 * Attempts that would change the probe itself (chroot, unshare, setns) run
 * in a forked child.  And the probe refuses to start at all unless its
 * mount, uts and pid namespaces differ from the launcher's.  */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/io_uring.h>
#include <linux/kexec.h>
#include <linux/magic.h>
#include <linux/securebits.h>
#include <linux/keyctl.h>
#include <linux/netlink.h>
#include <linux/openat2.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6; newer than the headers of some hosts */
#endif

#define WORKSPACE "/workspace"
#define MAX_FDS 1024
#define MIB (1024ul * 1024ul)

/* ------------------------------------------------------------------ */
/* Reporting                                                           */
/* ------------------------------------------------------------------ */

static int n_attempts, n_escaped;

#define PRINTF(f, a) __attribute__ ((format (printf, f, a)))
static void denied (const char *name, const char *fmt, ...) PRINTF (2, 3);
static void escaped (const char *name, const char *fmt, ...) PRINTF (2, 3);
static void skipped (const char *name, const char *fmt, ...) PRINTF (2, 3);

static const char *
ename (int e)
{
  const char *n = strerrorname_np (e);
  return n ? n : "unknown errno";
}

static void
denied (const char *name, const char *fmt, ...)
{
  va_list ap;

  n_attempts++;
  printf ("PASS: probe %s: denied (", name);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  printf (")\n");
}

static void
escaped (const char *name, const char *fmt, ...)
{
  va_list ap;

  n_attempts++;
  n_escaped++;
  printf ("FAIL: probe %s: ", name);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  printf ("\n");
}

static void
skipped (const char *name, const char *fmt, ...)
{
  va_list ap;

  printf ("SKIP: probe %s: ", name);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  printf ("\n");
}

/* A call that must simply fail.  RC >= 0 (an fd, a pid, 0) is a success.  */
static void
expect_fail (const char *name, long rc, int e)
{
  if (rc < 0)
    denied (name, "%s", ename (e));
  else
    escaped (name, "the call succeeded (returned %ld)", rc);
}

/* A privileged call given arguments that are only rejected after the
 * permission check: only a permission error means denied.  */
static void
expect_eperm (const char *name, long rc, int e)
{
  if (rc >= 0)
    escaped (name, "the call succeeded (returned %ld)", rc);
  else if (e == EPERM || e == EACCES || e == ENOSYS)
    denied (name, "%s", ename (e));
  else
    escaped (name, "passed the permission check (%s)", ename (e));
}

/* errno is read in a statement of its own, after the call: the order in
 * which C evaluates a function's arguments is unspecified.  */
#define EXPECT_EPERM(name, call)                                                                   \
  do                                                                                               \
    {                                                                                              \
      long rc_ = (long) (call);                                                                    \
      int e_ = errno;                                                                              \
      expect_eperm (name, rc_, e_);                                                                \
    }                                                                                              \
  while (0)

/* ------------------------------------------------------------------ */
/* Attempts run in a forked child                                      */
/* ------------------------------------------------------------------ */

struct verdict
{
  int escaped;
  char why[240];
};

typedef void (*child_fn) (struct verdict *v, const void *arg);

static void v_escaped (struct verdict *v, const char *fmt, ...) PRINTF (2, 3);

static void
v_denied (struct verdict *v, int e)
{
  v->escaped = 0;
  snprintf (v->why, sizeof v->why, "%s", ename (e));
}

static void
v_escaped (struct verdict *v, const char *fmt, ...)
{
  va_list ap;

  v->escaped = 1;
  va_start (ap, fmt);
  vsnprintf (v->why, sizeof v->why, fmt, ap);
  va_end (ap);
}

/* Run FN in a child so that an attempt which succeeds (a chroot, a new
 * namespace) can never change the probe itself; the child sends back its
 * verdict over a pipe.  */
static void
attempt_in_child (const char *name, child_fn fn, const void *arg)
{
  struct verdict v;
  int p[2], status = 0;
  ssize_t n;
  pid_t pid;

  if (pipe2 (p, O_CLOEXEC) < 0)
    {
      escaped (name, "probe error: pipe: %s", ename (errno));
      return;
    }
  pid = fork ();
  if (pid < 0)
    {
      escaped (name, "probe error: fork: %s", ename (errno));
      close (p[0]);
      close (p[1]);
      return;
    }
  if (pid == 0)
    {
      memset (&v, 0, sizeof v);
      fn (&v, arg);
      if (write (p[1], &v, sizeof v) != sizeof v)
        _exit (3);
      _exit (0);
    }
  close (p[1]);
  n = read (p[0], &v, sizeof v);
  close (p[0]);
  waitpid (pid, &status, 0);
  if (n != (ssize_t) sizeof v)
    escaped (name, "the attempt's child died without a verdict (status 0x%x)", status);
  else if (v.escaped)
    escaped (name, "%s", v.why);
  else
    denied (name, "%s", v.why);
}

/* ------------------------------------------------------------------ */
/* Namespace guard                                                     */
/* ------------------------------------------------------------------ */

static const char *const ns_names[] = { "mnt", "uts", "pid", "net", "ipc", "user", "cgroup" };
#define N_NS (sizeof ns_names / sizeof ns_names[0])
#define N_REQUIRED_NS 3 /* mnt, uts, pid: without these the probe refuses to run */

/* The inode number of a namespace from "type:[N]", or from a bare "N".  */
static unsigned long
ns_id_from_text (const char *s)
{
  while (*s && (*s < '0' || *s > '9'))
    s++;
  return strtoul (s, NULL, 10);
}

static unsigned long
own_ns_id (const char *type)
{
  char path[64], link[128];
  ssize_t n;

  snprintf (path, sizeof path, "/proc/self/ns/%s", type);
  n = readlink (path, link, sizeof link - 1);
  if (n < 0)
    return 0;
  link[n] = '\0';
  return ns_id_from_text (link);
}

/* Parse "mnt=ID,uts=ID,...".  */
static int
parse_host_ns (const char *arg, unsigned long ids[N_NS])
{
  char *copy = strdup (arg), *save = NULL, *tok;

  memset (ids, 0, sizeof (unsigned long) * N_NS);
  for (tok = strtok_r (copy, ",", &save); tok; tok = strtok_r (NULL, ",", &save))
    {
      char *eq = strchr (tok, '=');
      size_t i;

      if (eq == NULL)
        break;
      *eq = '\0';
      for (i = 0; i < N_NS && strcmp (tok, ns_names[i]) != 0; i++)
        ;
      if (i == N_NS)
        break;
      ids[i] = ns_id_from_text (eq + 1);
    }
  free (copy);
  if (tok != NULL)
    return -1;
  for (size_t i = 0; i < N_REQUIRED_NS; i++)
    if (ids[i] == 0)
      return -1;
  return 0;
}

/* Refuse to run where an attempt could touch the real host: every required
 * namespace must be a different one from the launcher's.  */
static int
refuse_outside_sandbox (const unsigned long host[N_NS])
{
  for (size_t i = 0; i < N_REQUIRED_NS; i++)
    {
      unsigned long mine = own_ns_id (ns_names[i]);

      if (mine == 0 || mine == host[i])
        {
          fprintf (stderr,
                   "tr-probe: refusing to run: my %s namespace (%lu) is %s; the escape probe "
                   "only runs inside a sandbox\n",
                   ns_names[i], mine, mine == 0 ? "unknown" : "the launcher's");
          return -1;
        }
    }
  return 0;
}

static void
check_namespaces (const unsigned long host[N_NS])
{
  char name[32];

  for (size_t i = 0; i < N_NS; i++)
    {
      unsigned long mine = own_ns_id (ns_names[i]);

      if (host[i] == 0)
        continue;
      snprintf (name, sizeof name, "%s-namespace", ns_names[i]);
      if (mine != 0 && mine != host[i])
        denied (name, "%lu, not the launcher's %lu", mine, host[i]);
      else
        escaped (name, "same %s namespace as the launcher (%lu)", ns_names[i], host[i]);
    }
}

/* ------------------------------------------------------------------ */
/* State checks: fds, capabilities, no_new_privs, seccomp               */
/* ------------------------------------------------------------------ */

static void
parse_fd_list (const char *s, bool want[MAX_FDS])
{
  memset (want, 0, sizeof (bool) * MAX_FDS);
  while (*s)
    {
      char *end;
      long fd = strtol (s, &end, 10);

      if (end == s)
        break;
      if (fd >= 0 && fd < MAX_FDS)
        want[fd] = true;
      s = *end == ',' ? end + 1 : end;
    }
}

/* Any fd the launcher leaked is a way out (a host directory, a socket).
 * This runs first, before the probe opens anything of its own.  */
static void
check_fds (const bool want[MAX_FDS])
{
  char extra[512] = "", path[64], target[128];
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *de;
  size_t len = 0;
  int n_extra = 0;

  if (d == NULL)
    {
      escaped ("fds", "cannot list /proc/self/fd (%s)", ename (errno));
      return;
    }
  while ((de = readdir (d)) != NULL)
    {
      long fd;
      ssize_t n;

      if (de->d_name[0] == '.')
        continue;
      fd = strtol (de->d_name, NULL, 10);
      if (fd == dirfd (d) || (fd >= 0 && fd < MAX_FDS && want[fd]))
        continue;
      snprintf (path, sizeof path, "/proc/self/fd/%ld", fd);
      n = readlink (path, target, sizeof target - 1);
      target[n < 0 ? 0 : n] = '\0';
      n_extra++;
      if (len < sizeof extra)
        len += (size_t) snprintf (extra + len, sizeof extra - len, " %ld->%s", fd, target);
    }
  closedir (d);
  if (n_extra > 0)
    escaped ("fds", "unexpected open fds:%s", extra);
  else
    denied ("fds", "only the expected fds are open");
}

/* The value of "KEY:\t..." in /proc/self/status, or NULL.  */
static char *
status_field (const char *key, char *out, size_t size)
{
  FILE *f = fopen ("/proc/self/status", "re");
  char line[256];
  size_t klen = strlen (key);
  char *found = NULL;

  if (f == NULL)
    return NULL;
  while (fgets (line, sizeof line, f))
    if (strncmp (line, key, klen) == 0 && line[klen] == ':')
      {
        char *v = line + klen + 1;
        v += strspn (v, " \t");
        v[strcspn (v, "\n")] = '\0';
        snprintf (out, size, "%s", v);
        found = out;
        break;
      }
  fclose (f);
  return found;
}

static void
check_status (void)
{
  static const char *const caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
  char v[128];

  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
    {
      if (status_field (caps[i], v, sizeof v) == NULL)
        escaped (caps[i], "not found in /proc/self/status");
      else if (strtoull (v, NULL, 16) != 0)
        escaped (caps[i], "capabilities held: %s", v);
      else
        denied (caps[i], "no capability held");
    }
  if (status_field ("NoNewPrivs", v, sizeof v) && strcmp (v, "1") == 0)
    denied ("no_new_privs", "NoNewPrivs: 1");
  else
    escaped ("no_new_privs", "NoNewPrivs is not 1");
  if (status_field ("Seccomp", v, sizeof v) && strcmp (v, "2") == 0)
    denied ("seccomp-filter", "Seccomp: 2");
  else
    escaped ("seccomp-filter", "no seccomp filter (Seccomp: %s)",
             status_field ("Seccomp", v, sizeof v) ? v : "?");
}

/* ------------------------------------------------------------------ */
/* Securebits                                                          */
/* ------------------------------------------------------------------ */

/* What sandbox/privs.c sets, every "lock" included: uid 0 never regains
 * capabilities on exec or setuid, and ambient ones can never be raised.  */
#define WANT_SECUREBITS                                                                            \
  (SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED   \
   | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)

/* In a child: a success would change the probe's own securebits.  */
static void
clear_securebits_child (struct verdict *v, const void *arg)
{
  (void) arg;
  if (prctl (PR_SET_SECUREBITS, 0, 0, 0, 0) < 0)
    v_denied (v, errno);
  else
    v_escaped (v, "PR_SET_SECUREBITS(0) succeeded: securebits now 0x%x",
               (unsigned) prctl (PR_GET_SECUREBITS, 0, 0, 0, 0));
}

static void
keepcaps_child (struct verdict *v, const void *arg)
{
  (void) arg;
  if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    v_denied (v, errno);
  else
    v_escaped (v, "PR_SET_KEEPCAPS(1) succeeded");
}

static void
check_securebits (void)
{
  long bits = prctl (PR_GET_SECUREBITS, 0, 0, 0, 0);
  int e = errno;

  if (bits < 0)
    escaped ("securebits-locked", "PR_GET_SECUREBITS: %s", ename (e));
  else if ((bits & WANT_SECUREBITS) != WANT_SECUREBITS)
    escaped ("securebits-locked", "securebits 0x%lx lack 0x%lx", (unsigned long) bits,
             (unsigned long) (WANT_SECUREBITS & ~bits));
  else
    denied ("securebits-locked",
            "securebits 0x%lx: NOROOT, NO_SETUID_FIXUP, NO_CAP_AMBIENT_RAISE "
            "set and locked, KEEP_CAPS locked",
            (unsigned long) bits);
  attempt_in_child ("securebits-clear", clear_securebits_child, NULL);
  attempt_in_child ("securebits-keepcaps", keepcaps_child, NULL);
}

/* ------------------------------------------------------------------ */
/* Foreign architectures: i386 (int $0x80) and x32 system calls          */
/* ------------------------------------------------------------------ */

/* Every filter's bad-architecture action is KILL_PROCESS: the child that
 * makes the call must die of SIGSYS before the call does anything.  The
 * call is a write of a marker to a pipe, from a buffer below 4 GiB (an
 * i386 call has 32-bit pointers), so the parent sees whether it ran.  */
#define FOREIGN_MARKER "tr-probe: the foreign syscall ran"
#define X32_SYSCALL_BIT 0x40000000l

#if defined(__x86_64__)
static long
i386_write (int fd, const char *buf, size_t n)
{
  long rc = 4; /* __NR_write on i386 */

  __asm__ volatile("int $0x80"
                   : "+a"(rc)
                   : "b"(fd), "c"((unsigned) (uintptr_t) buf), "d"((unsigned) n)
                   : "memory", "cc", "r8", "r9", "r10", "r11");
  return rc;
}

static long
x32_write (int fd, const char *buf, size_t n)
{
  return syscall (X32_SYSCALL_BIT | SYS_write, fd, buf, n);
}
#endif

static void
try_foreign_syscall (const char *name, long (*call) (int, const char *, size_t), bool i386)
{
  char got[256] = "";
  size_t len = 0;
  int p[2], status = 0;
  char *buf;
  pid_t pid;
  ssize_t n;

  buf = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (buf == MAP_FAILED)
    {
      escaped (name, "probe error: mmap(MAP_32BIT): %s", ename (errno));
      return;
    }
  memcpy (buf, FOREIGN_MARKER, sizeof FOREIGN_MARKER);
  if (pipe2 (p, O_CLOEXEC) < 0)
    {
      escaped (name, "probe error: pipe: %s", ename (errno));
      munmap (buf, 4096);
      return;
    }
  fflush (stdout);
  pid = fork ();
  if (pid < 0)
    {
      escaped (name, "probe error: fork: %s", ename (errno));
      close (p[0]);
      close (p[1]);
      munmap (buf, 4096);
      return;
    }
  if (pid == 0)
    {
      char line[64];
      long rc;
      int m;

      close (p[0]);
      rc = call (p[1], buf, strlen (FOREIGN_MARKER));
      /* Still alive: say so (a native write).  */
      m = snprintf (line, sizeof line, "\n(returned %ld)", rc);
      if (write (p[1], line, (size_t) m) < 0)
        _exit (4);
      _exit (0);
    }
  close (p[1]);
  while (len < sizeof got - 1 && (n = read (p[0], got + len, sizeof got - 1 - len)) > 0)
    len += (size_t) n;
  got[len] = '\0';
  close (p[0]);
  waitpid (pid, &status, 0);
  munmap (buf, 4096);
  if (strstr (got, FOREIGN_MARKER))
    escaped (name, "the call ran: the marker reached the pipe %s",
             strchr (got, '(') ? strchr (got, '(') : "");
  else if (WIFSIGNALED (status) && WTERMSIG (status) == SIGSYS && len == 0)
    denied (name, "killed by SIGSYS, nothing written");
  else if (i386 && WIFSIGNALED (status) && WTERMSIG (status) == SIGSEGV && len == 0)
    skipped (name, "no i386 emulation in this kernel (int $0x80 faults with SIGSEGV), so the "
                   "filter's bad-arch action cannot be observed");
  else if (WIFSIGNALED (status))
    escaped (name, "killed by signal %d (want SIGSYS)%s%s", WTERMSIG (status), len ? ": " : "",
             got);
  else
    escaped (name, "not killed (exit %d): %s", WEXITSTATUS (status),
             got[0] ? got + 1 : "no output");
}

static void
check_foreign_arch (void)
{
#if defined(__x86_64__)
  try_foreign_syscall ("foreign-arch-i386-int80", i386_write, true);
  try_foreign_syscall ("foreign-arch-x32", x32_write, false);
#else
  skipped ("foreign-arch", "only built for x86_64");
#endif
}

/* ------------------------------------------------------------------ */
/* Filesystem                                                          */
/* ------------------------------------------------------------------ */

/* Reading must fail: the path must not even be visible.  */
static void
try_read (const char *name, const char *path)
{
  char buf[16];
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    {
      denied (name, "%s: %s", path, ename (errno));
      return;
    }
  escaped (name, "opened %s (read %zd bytes)", path, read (fd, buf, sizeof buf));
  close (fd);
}

static void
try_list (const char *name, const char *path)
{
  DIR *d = opendir (path);

  if (d == NULL)
    {
      denied (name, "%s: %s", path, ename (errno));
      return;
    }
  escaped (name, "listed %s", path);
  closedir (d);
}

static void
check_host_files (const char *secret, pid_t host_pid)
{
  char path[4200];

  try_read ("host-secret", secret);
  snprintf (path, sizeof path, "/proc/%d/root%s", (int) host_pid, secret);
  try_read ("host-secret-via-proc", path);
  try_read ("etc-shadow", "/etc/shadow");
  try_list ("list-root-home", "/root");
  try_list ("list-home", "/home");
  try_list ("sysfs-cgroup", "/sys/fs/cgroup");
}

/* Creating a file anywhere but /workspace and /tmp must fail.  */
static void
check_writes (void)
{
  static const char *const dirs[] = { "/", "/etc", "/usr", "/usr/lib", "/proc" };
  char path[128], name[64];

  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    {
      int fd;

      snprintf (path, sizeof path, "%s/tr-probe-write-test", strcmp (dirs[i], "/") ? dirs[i] : "");
      snprintf (name, sizeof name, "write-%s", dirs[i]);
      fd = open (path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
      if (fd < 0)
        {
          denied (name, "%s", ename (errno));
          continue;
        }
      close (fd);
      unlink (path);
      escaped (name, "created %s", path);
    }
}

/* /proc/sys: write back the value that is already there.  */
static void
try_proc_sys (void)
{
  const char *path = "/proc/sys/vm/swappiness";
  char value[32] = "";
  ssize_t n;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd >= 0)
    {
      n = read (fd, value, sizeof value - 1);
      value[n < 0 ? 0 : n] = '\0';
      close (fd);
    }
  if (value[0] == '\0')
    {
      denied ("write-proc-sys", "cannot even read %s", path);
      return;
    }
  fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    {
      denied ("write-proc-sys", "%s", ename (errno));
      return;
    }
  n = write (fd, value, strlen (value));
  if (n < 0)
    denied ("write-proc-sys", "open for writing worked, write: %s", ename (errno));
  else
    escaped ("write-proc-sys", "wrote %s (the same value back)", path);
  close (fd);
}

static void
try_proc_self_exe (void)
{
  int fd = open ("/proc/self/exe", O_WRONLY | O_CLOEXEC);
  int e = errno;

  if (fd >= 0)
    close (fd);
  expect_fail ("write-proc-self-exe", fd, e);
}

static void
try_mknod (const char *name, const char *path)
{
  long rc = mknod (path, S_IFCHR | 0600, makedev (1, 3));
  int e = errno;

  if (rc == 0)
    unlink (path);
  expect_fail (name, rc, e);
}

/* ------------------------------------------------------------------ */
/* /proc and /dev as the sandbox builds them                           */
/* ------------------------------------------------------------------ */

/* The per-mount options ("ro,nosuid,...") of the topmost mount at TARGET
 * in /proc/self/mountinfo; false when nothing is mounted there.  */
static bool
mount_options (const char *target, char *out, size_t size)
{
  FILE *f = fopen ("/proc/self/mountinfo", "re");
  char line[4096];
  bool found = false;

  if (f == NULL)
    return false;
  /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ..."; later lines are
   * mounted on top of earlier ones.  Paths with spaces are escaped (\040),
   * so fields split on spaces.  */
  while (fgets (line, sizeof line, f))
    {
      char *save = NULL, *field = strtok_r (line, " ", &save);
      char *mp = NULL, *opts = NULL;

      for (int i = 1; field && i <= 6; i++, field = strtok_r (NULL, " ", &save))
        if (i == 5)
          mp = field;
        else if (i == 6)
          opts = field;
      if (mp && opts && strcmp (mp, target) == 0)
        {
          snprintf (out, size, "%s", opts);
          found = true;
        }
    }
  fclose (f);
  return found;
}

static bool
has_option (const char *opts, const char *want)
{
  size_t n = strlen (want);

  for (const char *p = opts; p && *p; p = strchr (p, ','), p = p ? p + 1 : NULL)
    if (strncmp (p, want, n) == 0 && (p[n] == ',' || p[n] == '\0'))
      return true;
  return false;
}

/* Writes to /proc/sys can fail for reasons of the kernel's own (EACCES for
 * a sysctl owned by the host's root); only the read-only mount proves the
 * sandbox refused them.  Likewise bus, fs and irq.  */
static void
check_proc_readonly (void)
{
  static const char *const dirs[] = { "sys", "bus", "fs", "irq" };
  char path[64], name[64], opts[512];
  struct stat st;

  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    {
      snprintf (path, sizeof path, "/proc/%s", dirs[i]);
      snprintf (name, sizeof name, "proc-%s-mounted-ro", dirs[i]);
      if (strcmp (dirs[i], "sys") != 0 && stat (path, &st) < 0)
        continue; /* not on this kernel */
      if (!mount_options (path, opts, sizeof opts))
        escaped (name, "%s is no mount of its own in /proc/self/mountinfo", path);
      else if (!has_option (opts, "ro"))
        escaped (name, "%s is mounted %s", path, opts);
      else
        denied (name, "%s mounted %s", path, opts);
    }
}

/* Files under /proc the sandbox covers with /dev/null (sandbox/mounts.c).
 * Strict: the kernel's own permission checks (EACCES for an unprivileged
 * reader) do not count; each one that exists must be the /dev/null bind.  */
static void
check_proc_masked_files (void)
{
  static const char *const files[] = {
    "kcore",       "keys",          "latency_stats", "timer_list", "timer_stats",
    "sched_debug", "sysrq-trigger", "kallsyms",      "kpagecount", "kpageflags",
    "kpagecgroup", "config.gz",     "vmallocinfo",
  };
  char path[64], name[64], buf[64];
  struct stat st;
  int absent = 0;

  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    {
      ssize_t n = -1;
      int fd;

      snprintf (path, sizeof path, "/proc/%s", files[i]);
      snprintf (name, sizeof name, "proc-masked-%s", files[i]);
      if (lstat (path, &st) < 0)
        {
          if (errno == ENOENT)
            absent++; /* not on this kernel */
          else
            escaped (name, "%s: %s (want the /dev/null mask)", path, ename (errno));
          continue;
        }
      if (!S_ISCHR (st.st_mode) || st.st_rdev != makedev (1, 3))
        {
          fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
          if (fd >= 0)
            {
              n = read (fd, buf, sizeof buf);
              close (fd);
            }
          if (n > 0)
            escaped (name, "read %zd bytes from %s", n, path);
          else
            escaped (name, "%s is not covered by /dev/null (mode %o)", path, (unsigned) st.st_mode);
          continue;
        }
      fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      if (fd >= 0)
        {
          n = read (fd, buf, sizeof buf);
          close (fd);
        }
      if (n > 0)
        escaped (name, "read %zd bytes from %s, a /dev/null", n, path);
      else
        denied (name, "%s is /dev/null: empty", path);
    }
  if (absent)
    printf ("tr-probe: %d masked /proc files do not exist on this kernel\n", absent);
}

/* Directories under /proc the sandbox covers with an empty read-only
 * tmpfs.  Again strict: unreadable is not enough.  */
static void
check_proc_masked_dirs (void)
{
  static const char *const dirs[] = { "acpi", "asound", "scsi", "driver", "tty/driver" };
  char path[64], name[64], opts[512];
  struct statfs sf;
  struct stat st;

  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    {
      struct dirent *de;
      int entries = 0;
      DIR *d;

      snprintf (path, sizeof path, "/proc/%s", dirs[i]);
      snprintf (name, sizeof name, "proc-masked-%s", dirs[i]);
      if (lstat (path, &st) < 0 && errno == ENOENT)
        continue; /* not on this kernel */
      if (statfs (path, &sf) < 0 || sf.f_type != TMPFS_MAGIC)
        {
          escaped (name, "%s is not covered by a tmpfs", path);
          continue;
        }
      d = opendir (path);
      if (d == NULL)
        {
          escaped (name, "%s: %s (want an empty, readable tmpfs)", path, ename (errno));
          continue;
        }
      while ((de = readdir (d)) != NULL)
        if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
          entries++;
      closedir (d);
      if (entries)
        escaped (name, "%s lists %d entries", path, entries);
      else if (!mount_options (path, opts, sizeof opts) || !has_option (opts, "ro"))
        escaped (name, "%s is an empty tmpfs but not mounted read-only", path);
      else
        denied (name, "%s is an empty read-only tmpfs", path);
    }
}

struct dev_entry
{
  const char *name;
  mode_t type;        /* S_IFCHR, S_IFLNK or S_IFDIR */
  unsigned maj, min;  /* S_IFCHR */
  const char *target; /* S_IFLNK */
  bool pts;           /* only with --dev-pts */
};

/* Exactly what the sandbox's minimal /dev holds (sandbox/mounts.c).  */
static const struct dev_entry dev_entries[] = {
  { "null", S_IFCHR, 1, 3, NULL, false },
  { "zero", S_IFCHR, 1, 5, NULL, false },
  { "full", S_IFCHR, 1, 7, NULL, false },
  { "random", S_IFCHR, 1, 8, NULL, false },
  { "urandom", S_IFCHR, 1, 9, NULL, false },
  { "tty", S_IFCHR, 5, 0, NULL, false },
  { "fd", S_IFLNK, 0, 0, "/proc/self/fd", false },
  { "stdin", S_IFLNK, 0, 0, "/proc/self/fd/0", false },
  { "stdout", S_IFLNK, 0, 0, "/proc/self/fd/1", false },
  { "stderr", S_IFLNK, 0, 0, "/proc/self/fd/2", false },
  { "pts", S_IFDIR, 0, 0, NULL, true },
  { "ptmx", S_IFLNK, 0, 0, "pts/ptmx", true },
};
#define N_DEV_ENTRIES (sizeof dev_entries / sizeof dev_entries[0])

/* NAME in /dev is the expected entry: the right type and device, or the
 * right link target; pts a devpts of its own.  */
static bool
dev_entry_ok (const struct dev_entry *want, char *why, size_t size)
{
  char path[64], target[64];
  struct stat st;
  struct statfs sf;
  ssize_t n;

  snprintf (path, sizeof path, "/dev/%s", want->name);
  if (lstat (path, &st) < 0)
    return snprintf (why, size, "%s: %s", path, ename (errno)), false;
  if ((st.st_mode & S_IFMT) != want->type)
    return snprintf (why, size, "%s has mode %o", path, (unsigned) st.st_mode), false;
  switch (want->type)
    {
    case S_IFCHR:
      if (major (st.st_rdev) != want->maj || minor (st.st_rdev) != want->min)
        return snprintf (why, size, "%s is device %u:%u, want %u:%u", path, major (st.st_rdev),
                         minor (st.st_rdev), want->maj, want->min),
               false;
      return true;
    case S_IFLNK:
      n = readlink (path, target, sizeof target - 1);
      target[n < 0 ? 0 : n] = '\0';
      if (strcmp (target, want->target) != 0)
        return snprintf (why, size, "%s -> %s, want %s", path, target, want->target), false;
      return true;
    default:
      if (statfs (path, &sf) < 0 || sf.f_type != DEVPTS_SUPER_MAGIC)
        return snprintf (why, size, "%s is not a devpts", path), false;
      return true;
    }
}

static void
check_dev (bool dev_pts)
{
  char extra[512] = "", bad[512] = "", why[160];
  size_t elen = 0, blen = 0;
  bool seen[N_DEV_ENTRIES] = { false };
  struct dirent *de;
  DIR *d = opendir ("/dev");

  if (d == NULL)
    {
      escaped ("dev-contents", "/dev: %s (want the minimal /dev)", ename (errno));
      return;
    }
  while ((de = readdir (d)) != NULL)
    {
      size_t i;

      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      for (i = 0; i < N_DEV_ENTRIES && strcmp (de->d_name, dev_entries[i].name) != 0; i++)
        ;
      if (i == N_DEV_ENTRIES || (dev_entries[i].pts && !dev_pts))
        {
          if (elen < sizeof extra)
            elen += (size_t) snprintf (extra + elen, sizeof extra - elen, " %s", de->d_name);
          continue;
        }
      seen[i] = true;
      if (!dev_entry_ok (&dev_entries[i], why, sizeof why) && blen < sizeof bad)
        blen += (size_t) snprintf (bad + blen, sizeof bad - blen, " [%s]", why);
    }
  closedir (d);
  for (size_t i = 0; i < N_DEV_ENTRIES; i++)
    if (!seen[i] && (!dev_entries[i].pts || dev_pts) && blen < sizeof bad)
      blen += (size_t) snprintf (bad + blen, sizeof bad - blen, " [missing %s]",
                                 dev_entries[i].name);
  if (elen || blen)
    escaped ("dev-contents", "/dev is not the minimal one:%s%s%s", elen ? " extra:" : "", extra,
             bad);
  else
    denied ("dev-contents", "exactly null zero full random urandom tty (+ fd, stdio links)%s",
            dev_pts ? " + pts, ptmx" : "");
}

static void
check_proc_dev (bool dev_pts)
{
  check_proc_readonly ();
  check_proc_masked_files ();
  check_proc_masked_dirs ();
  check_dev (dev_pts);
}

/* ------------------------------------------------------------------ */
/* Setuid files and file capabilities in /workspace                     */
/* ------------------------------------------------------------------ */

/* A call that returned 0 only escaped if the bit really landed.  */
#define EXPECT_NO_SUID(name, call, path, bit)                                                      \
  do                                                                                               \
    {                                                                                              \
      long rc_ = (long) (call);                                                                    \
      int e_ = errno;                                                                              \
      expect_no_suid (name, rc_, e_, path, bit);                                                   \
    }                                                                                              \
  while (0)

static void
expect_no_suid (const char *name, long rc, int e, const char *path, mode_t bit)
{
  struct stat st;

  if (rc < 0)
    denied (name, "%s", ename (e));
  else if (stat (path, &st) == 0 && (st.st_mode & bit))
    escaped (name, "%s now has mode %o", path, (unsigned) st.st_mode & 07777);
  else
    denied (name, "the call succeeded but the bit was dropped");
}

static void
try_setuid_create (void)
{
  const char *path = WORKSPACE "/tr-probe-suid-create";
  int fd, e;

  unlink (path);
  fd = open (path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 04755);
  e = errno;
  if (fd >= 0)
    close (fd);
  expect_no_suid ("setuid-open-create", fd, e, path, S_ISUID);
  unlink (path);

  fd = creat (WORKSPACE "/tr-probe-suid-creat", 04755);
  e = errno;
  if (fd >= 0)
    close (fd);
  expect_no_suid ("setuid-creat", fd, e, WORKSPACE "/tr-probe-suid-creat", S_ISUID);
  unlink (WORKSPACE "/tr-probe-suid-creat");

  /* openat2 carries the mode in memory, out of a filter's reach: the
   * filter must refuse the call itself.  */
  {
    struct open_how how = { .flags = O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, .mode = 04755 };
    fd = (int) syscall (SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    e = errno;
    if (fd >= 0)
      close (fd);
    expect_no_suid ("setuid-openat2-create", fd, e, path, S_ISUID);
    unlink (path);
  }

  rmdir (WORKSPACE "/tr-probe-sgid-dir");
  EXPECT_NO_SUID ("setgid-mkdir", mkdir (WORKSPACE "/tr-probe-sgid-dir", 02755),
                  WORKSPACE "/tr-probe-sgid-dir", S_ISGID);
  rmdir (WORKSPACE "/tr-probe-sgid-dir");
}

/* A capability xattr granting nothing: harmless even if it sticks.  */
static void
try_file_caps (const char *path, int fd)
{
  struct vfs_cap_data cap;
  long rc;
  int e;

  memset (&cap, 0, sizeof cap);
  cap.magic_etc = VFS_CAP_REVISION_2;
  rc = setxattr (path, "security.capability", &cap, XATTR_CAPS_SZ_2, 0);
  e = errno;
  if (rc == 0)
    removexattr (path, "security.capability");
  expect_fail ("setxattr-security.capability", rc, e);
  rc = fsetxattr (fd, "security.capability", &cap, XATTR_CAPS_SZ_2, 0);
  e = errno;
  if (rc == 0)
    fremovexattr (fd, "security.capability");
  expect_fail ("fsetxattr-security.capability", rc, e);
}

static void
check_setuid (void)
{
  const char *path = WORKSPACE "/tr-probe-suid";
  int fd;

  try_setuid_create ();
  unlink (path);
  fd = open (path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0755);
  if (fd < 0)
    {
      skipped ("setuid-chmod", "cannot create a plain file in " WORKSPACE " (%s)", ename (errno));
      return;
    }
  EXPECT_NO_SUID ("setuid-chmod", chmod (path, 04755), path, S_ISUID);
  chmod (path, 0755);
  EXPECT_NO_SUID ("setuid-fchmod", fchmod (fd, 04755), path, S_ISUID);
  chmod (path, 0755);
  EXPECT_NO_SUID ("setuid-fchmodat", fchmodat (AT_FDCWD, path, 04755, 0), path, S_ISUID);
  chmod (path, 0755);
  EXPECT_NO_SUID ("setuid-fchmodat2", syscall (SYS_fchmodat2, AT_FDCWD, path, 04755, 0), path,
                  S_ISUID);
  chmod (path, 0755);
  EXPECT_NO_SUID ("setgid-chmod", chmod (path, 02755), path, S_ISGID);
  try_file_caps (path, fd);
  close (fd);
  unlink (path);
  try_mknod ("mknod-workspace", WORKSPACE "/tr-probe-node");
}

/* ------------------------------------------------------------------ */
/* Mounts, chroot, namespaces                                          */
/* ------------------------------------------------------------------ */

static void
check_mounts (void)
{
  const char *target = "/tmp/tr-probe-mnt";
  long rc;
  int e;

  mkdir (target, 0700);
  rc = mount ("tr-probe", target, "tmpfs", MS_NOSUID, "size=4k");
  e = errno;
  if (rc == 0)
    umount2 (target, MNT_DETACH);
  expect_fail ("mount-tmpfs", rc, e);
  rc = mount ("/", target, NULL, MS_BIND | MS_REC, NULL);
  e = errno;
  if (rc == 0)
    umount2 (target, MNT_DETACH);
  expect_fail ("mount-bind", rc, e);
  rmdir (target);

  /* MNT_EXPIRE only marks the mount on the first call (EAGAIN), after the
   * permission check: nothing is unmounted even when it is allowed.  */
  EXPECT_EPERM ("umount2-proc", umount2 ("/proc", MNT_EXPIRE));
  /* put_old does not exist: ENOENT would come after the permission check.  */
  EXPECT_EPERM ("pivot_root", syscall (SYS_pivot_root, "/tmp", "/tmp/tr-probe-nonexistent"));

  rc = syscall (SYS_fsopen, "tmpfs", 0);
  e = errno;
  if (rc >= 0)
    close ((int) rc);
  expect_fail ("fsopen", rc, e);
  rc = syscall (SYS_open_tree, AT_FDCWD, "/", 1 /* OPEN_TREE_CLONE */);
  e = errno;
  if (rc >= 0)
    close ((int) rc);
  expect_fail ("open_tree-clone", rc, e);
}

static void
chroot_child (struct verdict *v, const void *arg)
{
  (void) arg;
  mkdir ("/tmp/tr-probe-chroot", 0700);
  if (chroot ("/tmp/tr-probe-chroot") < 0)
    v_denied (v, errno);
  else
    v_escaped (v, "chroot succeeded");
}

/* The classic escape: keep an fd to the old root, chroot into a
 * subdirectory, fchdir back out and climb with "..".  */
static void
chroot_escape_child (struct verdict *v, const void *arg)
{
  const char *secret = arg;
  int fd = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  mkdir ("/tmp/tr-probe-chroot", 0700);
  if (chroot ("/tmp/tr-probe-chroot") < 0)
    {
      v_denied (v, errno);
      return;
    }
  if (fd < 0 || fchdir (fd) < 0)
    {
      v_escaped (v, "chroot succeeded (fchdir out failed)");
      return;
    }
  for (int i = 0; i < 64; i++)
    if (chdir ("..") < 0)
      break;
  if (chroot (".") == 0 && access (secret, F_OK) == 0)
    v_escaped (v, "escaped the chroot and reached the host secret %s", secret);
  else
    v_escaped (v, "chroot succeeded (no host path reached)");
}

struct ns_flag
{
  const char *name;
  int flag;
};

static const struct ns_flag ns_flags[] = {
  { "CLONE_NEWNS", CLONE_NEWNS },         { "CLONE_NEWUTS", CLONE_NEWUTS },
  { "CLONE_NEWIPC", CLONE_NEWIPC },       { "CLONE_NEWUSER", CLONE_NEWUSER },
  { "CLONE_NEWPID", CLONE_NEWPID },       { "CLONE_NEWNET", CLONE_NEWNET },
  { "CLONE_NEWCGROUP", CLONE_NEWCGROUP }, { "CLONE_NEWTIME", 0x80 },
};
#define N_NS_FLAGS (sizeof ns_flags / sizeof ns_flags[0])

static void
unshare_child (struct verdict *v, const void *arg)
{
  const struct ns_flag *f = arg;

  if (unshare (f->flag) < 0)
    v_denied (v, errno);
  else
    v_escaped (v, "unshare(%s) succeeded", f->name);
}

static void
setns_child (struct verdict *v, const void *arg)
{
  const char *type = arg;
  char path[64];
  int fd, e;

  snprintf (path, sizeof path, "/proc/self/ns/%s", type);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      v_denied (v, errno);
      return;
    }
  if (setns (fd, 0) == 0)
    {
      v_escaped (v, "setns(%s) succeeded", path);
      return;
    }
  /* Any error but a permission error means the call reached the checks
   * that come after the filter (EINVAL for one's own user namespace).  */
  e = errno;
  if (e == EPERM || e == EACCES || e == ENOSYS)
    v_denied (v, e);
  else
    v_escaped (v, "setns(%s) passed the permission check (%s)", path, ename (e));
}

/* Raw clone without a new stack behaves like fork; a child that is created
 * anyway exits at once.  */
static void
try_clone_flag (const struct ns_flag *f)
{
  char name[64];
  long rc;
  int e;

  snprintf (name, sizeof name, "clone(%s)", f->name);
  rc = syscall (SYS_clone, (unsigned long) f->flag | SIGCHLD, 0, 0, 0, 0);
  if (rc == 0)
    _exit (0);
  e = errno;
  if (rc > 0)
    waitpid ((pid_t) rc, NULL, 0);
  expect_fail (name, rc, e);

  {
    struct clone_args args;

    snprintf (name, sizeof name, "clone3(%s)", f->name);
    memset (&args, 0, sizeof args);
    args.flags = (uint64_t) f->flag;
    args.exit_signal = SIGCHLD;
    rc = syscall (SYS_clone3, &args, sizeof args);
    if (rc == 0)
      _exit (0);
    e = errno;
    if (rc > 0)
      waitpid ((pid_t) rc, NULL, 0);
    expect_fail (name, rc, e);
  }
}

static void
check_namespace_calls (const char *secret)
{
  static const char *const setns_types[]
      = { "mnt", "uts", "ipc", "net", "pid", "user", "cgroup", "time" };
  char name[64];

  attempt_in_child ("chroot", chroot_child, NULL);
  attempt_in_child ("chroot-escape-with-fd", chroot_escape_child, secret);
  rmdir ("/tmp/tr-probe-chroot");
  for (size_t i = 0; i < N_NS_FLAGS; i++)
    {
      snprintf (name, sizeof name, "unshare(%s)", ns_flags[i].name);
      attempt_in_child (name, unshare_child, &ns_flags[i]);
    }
  for (size_t i = 0; i < sizeof setns_types / sizeof setns_types[0]; i++)
    {
      snprintf (name, sizeof name, "setns(%s)", setns_types[i]);
      attempt_in_child (name, setns_child, setns_types[i]);
    }
  for (size_t i = 0; i < N_NS_FLAGS; i++)
    try_clone_flag (&ns_flags[i]);
}

/* ------------------------------------------------------------------ */
/* Processes: ptrace, signals, pids                                    */
/* ------------------------------------------------------------------ */

static void
traceme_child (struct verdict *v, const void *arg)
{
  (void) arg;
  if (ptrace (PTRACE_TRACEME, 0, NULL, NULL) < 0)
    v_denied (v, errno);
  else
    v_escaped (v, "PTRACE_TRACEME succeeded");
}

static void
try_ptrace_attach (const char *name, pid_t pid)
{
  long rc = ptrace (PTRACE_ATTACH, pid, NULL, NULL);
  int e = errno;

  if (rc == 0)
    {
      waitpid (pid, NULL, __WALL);
      ptrace (PTRACE_DETACH, pid, NULL, NULL);
    }
  expect_fail (name, rc, e);
}

/* A sibling inside the cage: ptrace and process_vm_* are the classic ways
 * around a seccomp filter, so they must be blocked even there.  */
static void
check_sandbox_sibling (void)
{
  char buf[8] = "", src[8] = "probe";
  struct iovec local = { buf, sizeof buf }, remote = { src, sizeof src };
  pid_t child = fork ();
  long rc;

  if (child < 0)
    {
      escaped ("ptrace-attach-sibling", "probe error: fork: %s", ename (errno));
      return;
    }
  if (child == 0)
    {
      pause ();
      _exit (0);
    }
  try_ptrace_attach ("ptrace-attach-sibling", child);
  kill (child, SIGKILL);
  waitpid (child, NULL, 0);
  rc = process_vm_readv (getpid (), &local, 1, &remote, 1, 0);
  expect_fail ("process_vm_readv", rc, errno);
}

static void
check_host_pid (pid_t host_pid)
{
  char path[64];
  struct stat st;

  try_ptrace_attach ("ptrace-attach-host-pid", host_pid);
  attempt_in_child ("ptrace-traceme", traceme_child, NULL);
  check_sandbox_sibling ();

  /* The host pid must not exist here at all: ESRCH, not EPERM.  */
  if (kill (host_pid, 0) == 0)
    escaped ("kill-host-pid", "kill(%d, 0) succeeded", (int) host_pid);
  else if (errno == ESRCH)
    denied ("kill-host-pid", "ESRCH");
  else
    escaped ("kill-host-pid", "pid %d exists here (%s)", (int) host_pid, ename (errno));
  snprintf (path, sizeof path, "/proc/%d", (int) host_pid);
  if (stat (path, &st) == 0)
    escaped ("proc-host-pid", "%s exists", path);
  else
    denied ("proc-host-pid", "%s: %s", path, ename (errno));
}

/* ------------------------------------------------------------------ */
/* Network                                                             */
/* ------------------------------------------------------------------ */

static int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connect with a deadline; 0 when connected, else the errno.  */
static int
connect_to (int family, int type, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
  int fd = socket (family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int e = 0;
  socklen_t elen = sizeof e;

  if (fd < 0)
    return errno;
  if (connect (fd, sa, len) < 0)
    {
      e = errno;
      if (e == EINPROGRESS)
        {
          struct pollfd p = { .fd = fd, .events = POLLOUT };
          if (poll (&p, 1, timeout_ms) <= 0)
            e = ETIMEDOUT;
          else if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
            e = errno;
        }
    }
  close (fd);
  return e;
}

static void
try_host_loopback (int port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
  struct sockaddr_un su = { .sun_family = AF_UNIX };
  int e;

  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  e = connect_to (AF_INET, SOCK_STREAM, (struct sockaddr *) &sa, sizeof sa, 2000);
  if (e == 0)
    escaped ("connect-host-loopback", "connected to the host listener on 127.0.0.1:%d", port);
  else
    denied ("connect-host-loopback", "127.0.0.1:%d: %s", port, ename (e));

  /* Abstract unix sockets belong to the network namespace; the test's
   * listener binds this name on the host too.  */
  snprintf (su.sun_path + 1, sizeof su.sun_path - 1, "tr-probe-host-%d", port);
  e = connect_to (
      AF_UNIX, SOCK_STREAM, (struct sockaddr *) &su,
      (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + strlen (su.sun_path + 1)), 2000);
  if (e == 0)
    escaped ("connect-host-abstract-unix", "connected to @%s", su.sun_path + 1);
  else
    denied ("connect-host-abstract-unix", "@%s: %s", su.sun_path + 1, ename (e));
}

/* There is no route out: the error must be ENETUNREACH, and at once (a
 * timeout would mean packets went somewhere).  */
static void
expect_unreachable (const char *name, int family, int type, const struct sockaddr *sa,
                    socklen_t len)
{
  int64_t start = now_ms ();
  int e = connect_to (family, type, sa, len, 3000);
  int64_t took = now_ms () - start;

  if (e == ENETUNREACH && took < 1000)
    denied (name, "ENETUNREACH after %lld ms", (long long) took);
  else if (e == 0)
    escaped (name, "connected");
  else
    escaped (name, "%s after %lld ms (want ENETUNREACH at once)", ename (e), (long long) took);
}

static void
try_outside (void)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons (53) };
  struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons (53) };
  int fd;
  long rc;
  int e;

  inet_pton (AF_INET, "1.1.1.1", &a.sin_addr);
  expect_unreachable ("connect-1.1.1.1:53", AF_INET, SOCK_STREAM, (struct sockaddr *) &a, sizeof a);
  fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  rc = fd < 0 ? -1 : sendto (fd, "x", 1, 0, (struct sockaddr *) &a, sizeof a);
  e = errno;
  if (fd >= 0)
    close (fd);
  if (rc < 0 && e == ENETUNREACH)
    denied ("udp-1.1.1.1:53", "ENETUNREACH");
  else
    expect_fail ("udp-1.1.1.1:53", rc, e);
  inet_pton (AF_INET, "10.0.2.2", &a.sin_addr);
  a.sin_port = htons (80);
  expect_unreachable ("connect-10.0.2.2:80", AF_INET, SOCK_STREAM, (struct sockaddr *) &a,
                      sizeof a);
  inet_pton (AF_INET6, "2606:4700:4700::1111", &a6.sin6_addr);
  expect_unreachable ("connect-[2606:4700:4700::1111]:53", AF_INET6, SOCK_STREAM,
                      (struct sockaddr *) &a6, sizeof a6);
}

/* The only interface must be lo.  */
static void
check_interfaces (void)
{
  FILE *f = fopen ("/proc/net/dev", "re");
  char line[256], others[256] = "";
  size_t len = 0;

  if (f == NULL)
    {
      denied ("interfaces", "/proc/net/dev: %s", ename (errno));
      return;
    }
  while (fgets (line, sizeof line, f))
    {
      char *colon = strchr (line, ':'), *name = line;

      if (colon == NULL)
        continue;
      *colon = '\0';
      name += strspn (name, " ");
      if (strcmp (name, "lo") != 0 && len < sizeof others)
        len += (size_t) snprintf (others + len, sizeof others - len, " %s", name);
    }
  fclose (f);
  if (len)
    escaped ("interfaces", "interfaces other than lo:%s", others);
  else
    denied ("interfaces", "only lo");
}

static void
try_socket (const char *name, int family, int type, int proto)
{
  int fd = socket (family, type | SOCK_CLOEXEC, proto);
  int e = errno;

  if (fd >= 0)
    close (fd);
  expect_fail (name, fd, e);
}

static void
check_network (int port)
{
  check_interfaces ();
  try_host_loopback (port);
  try_outside ();
  try_socket ("socket-netlink-route", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  try_socket ("socket-netlink-audit", AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
  try_socket ("socket-packet", AF_PACKET, SOCK_RAW, htons (ETH_P_ALL));
  try_socket ("socket-inet-raw", AF_INET, SOCK_RAW, IPPROTO_ICMP);
  try_socket ("socket-inet6-raw", AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
  try_socket ("socket-alg", AF_ALG, SOCK_SEQPACKET, 0);
  try_socket ("socket-vsock", AF_VSOCK, SOCK_STREAM, 0);
}

/* ------------------------------------------------------------------ */
/* Kernel attack surface                                               */
/* ------------------------------------------------------------------ */

static void
try_fd_call (const char *name, long rc, int e)
{
  if (rc >= 0)
    close ((int) rc);
  expect_fail (name, rc, e);
}

static void
check_keys_bpf_perf (void)
{
  union bpf_attr ba;
  struct perf_event_attr pa;
  long rc;

  rc = syscall (SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
  expect_fail ("keyctl", rc, errno);
  /* No callout: a permitted call would only answer ENOKEY.  */
  EXPECT_EPERM ("request_key", syscall (SYS_request_key, "user", "tr-probe:none", NULL, 0));

  /* A one-entry array map: harmless if it were created.  */
  memset (&ba, 0, sizeof ba);
  ba.map_type = BPF_MAP_TYPE_ARRAY;
  ba.key_size = 4;
  ba.value_size = 4;
  ba.max_entries = 1;
  rc = syscall (SYS_bpf, BPF_MAP_CREATE, &ba, sizeof ba);
  try_fd_call ("bpf", rc, errno);

  /* Counting our own CPU clock is allowed by perf_event_paranoid 2: only
   * the filter stands in the way.  */
  memset (&pa, 0, sizeof pa);
  pa.size = sizeof pa;
  pa.type = PERF_TYPE_SOFTWARE;
  pa.config = PERF_COUNT_SW_CPU_CLOCK;
  pa.disabled = 1;
  pa.exclude_kernel = 1;
  rc = syscall (SYS_perf_event_open, &pa, 0, -1, -1, 0);
  try_fd_call ("perf_event_open", rc, errno);

  rc = syscall (SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
  try_fd_call ("userfaultfd", rc, errno);
}

static void
check_kernel_calls (void)
{
  struct io_uring_params up;
  struct
  {
    struct file_handle h;
    unsigned char bytes[16];
  } fh;
  int rootfd;

  /* entries == 0 is rejected (EINVAL) only after io_uring_allowed().  */
  memset (&up, 0, sizeof up);
  EXPECT_EPERM ("io_uring_setup", syscall (SYS_io_uring_setup, 0, &up));

  /* handle_bytes == 0 is rejected (EINVAL) after the capability check.  */
  memset (&fh, 0, sizeof fh);
  rootfd = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  EXPECT_EPERM ("open_by_handle_at", syscall (SYS_open_by_handle_at, rootfd, &fh.h, O_RDONLY));
  if (rootfd >= 0)
    close (rootfd);

  /* Bad flags: EINVAL only after CAP_SYS_BOOT was checked.  */
  EXPECT_EPERM ("kexec_load", syscall (SYS_kexec_load, 0, 0, NULL, 0xdead0000ul));
  /* Bad fds: EBADF only after the permission check.  */
  EXPECT_EPERM ("kexec_file_load", syscall (SYS_kexec_file_load, -1, -1, 0, NULL, 0));
  /* No image: EFAULT/ENOEXEC/EBADF/ENOENT only after CAP_SYS_MODULE.  */
  EXPECT_EPERM ("init_module", syscall (SYS_init_module, NULL, 0, ""));
  EXPECT_EPERM ("finit_module", syscall (SYS_finit_module, -1, "", 0));
  EXPECT_EPERM ("delete_module", syscall (SYS_delete_module, "tr_probe_none", O_NONBLOCK));
}

/* Write back the current ctrl-alt-del mode: success changes nothing.  (In a
 * child pid namespace, which the guard guarantees, the kernel answers the
 * CAD commands with EINVAL after the permission check anyway.)  */
static void
try_reboot (void)
{
  char v[16] = "";
  int fd = open ("/proc/sys/kernel/ctrl-alt-del", O_RDONLY | O_CLOEXEC);
  unsigned cmd;

  if (fd >= 0)
    {
      if (read (fd, v, sizeof v - 1) < 0)
        v[0] = '\0';
      close (fd);
    }
  /* Unreadable: assume the kernel default (1, reboot at once).  */
  cmd = (v[0] == '\0' || atoi (v) == 1) ? LINUX_REBOOT_CMD_CAD_ON : LINUX_REBOOT_CMD_CAD_OFF;
  EXPECT_EPERM ("reboot",
                syscall (SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, cmd, NULL));
}

/* TIOCSTI with a NULL argument: a permitted call fails with EFAULT before a
 * byte is injected.  EIO is the kernel's own refusal (legacy_tiocsti=0).  */
static void
try_tty_ioctl (const char *name, int fd, unsigned long req)
{
  long rc = ioctl (fd, req, NULL);
  int e = errno;

  if (rc < 0 && (e == EPERM || e == EACCES || e == EIO))
    denied (name, "%s", ename (e));
  else if (rc < 0)
    escaped (name, "reached the tty layer (%s)", ename (e));
  else
    escaped (name, "the ioctl succeeded");
}

/* With --dev-pts there is a terminal of our own to try TIOCSTI on.  */
static void
try_pty_tiocsti (void)
{
  int master = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC), slave;

  if (master < 0)
    return;
  if (grantpt (master) < 0 || unlockpt (master) < 0
      || (slave = open (ptsname (master), O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
    {
      close (master);
      return;
    }
  try_tty_ioctl ("ioctl-TIOCSTI-pty", slave, TIOCSTI);
  close (slave);
  close (master);
}

static void
check_host_state_calls (void)
{
  int tty;

  try_reboot ();
  /* NULL, NULL: a no-op that only checks CAP_SYS_TIME.  */
  EXPECT_EPERM ("settimeofday", syscall (SYS_settimeofday, NULL, NULL));
  try_tty_ioctl ("ioctl-TIOCSTI-stdin", 0, TIOCSTI);
  try_tty_ioctl ("ioctl-TIOCLINUX-stdin", 0, TIOCLINUX);
  tty = open ("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (tty >= 0)
    {
      try_tty_ioctl ("ioctl-TIOCSTI-dev-tty", tty, TIOCSTI);
      close (tty);
    }
  try_pty_tiocsti ();
  try_proc_sys ();
  try_proc_self_exe ();
  try_mknod ("mknod-tmp", "/tmp/tr-probe-node");
}

/* ------------------------------------------------------------------ */
/* escape                                                              */
/* ------------------------------------------------------------------ */

struct escape_args
{
  unsigned long host_ns[N_NS];
  pid_t host_pid;
  const char *secret;
  int port;
  bool dev_pts;
  bool expect_fds[MAX_FDS];
};

static int
usage (void)
{
  fprintf (
      stderr,
      "usage: tr-probe escape --host-ns mnt=ID,uts=ID,pid=ID[,net=ID,ipc=ID,user=ID,cgroup=ID]\n"
      "                       --host-pid PID --secret PATH --port N [--expect-fds 0,1,2]\n"
      "                       [--dev-pts]\n"
      "       tr-probe forkbomb | membomb [MAX_MIB] | mapbomb [MAX_GIB] | cpuloop | diskfill DIR\n"
      "                | fdbomb\n");
  return 2;
}

static int
parse_escape_args (int argc, char **argv, struct escape_args *a)
{
  static const struct option opts[] = {
    { "host-ns", required_argument, 0, 'n' },
    { "host-pid", required_argument, 0, 'p' },
    { "secret", required_argument, 0, 's' },
    { "port", required_argument, 0, 'P' },
    { "expect-fds", required_argument, 0, 'f' },
    { "dev-pts", no_argument, 0, 'D' },
    { 0, 0, 0, 0 },
  };
  bool have_ns = false;
  int c;

  memset (a, 0, sizeof *a);
  parse_fd_list ("0,1,2", a->expect_fds);
  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (c)
      {
      case 'n':
        if (parse_host_ns (optarg, a->host_ns) < 0)
          return -1;
        have_ns = true;
        break;
      case 'p':
        a->host_pid = (pid_t) atoi (optarg);
        break;
      case 's':
        a->secret = optarg;
        break;
      case 'P':
        a->port = atoi (optarg);
        break;
      case 'f':
        parse_fd_list (optarg, a->expect_fds);
        break;
      case 'D':
        a->dev_pts = true;
        break;
      default:
        return -1;
      }
  if (!have_ns || a->host_pid <= 0 || a->secret == NULL || a->secret[0] != '/' || a->port <= 0
      || a->port > 65535 || optind != argc)
    return -1;
  return 0;
}

static int
cmd_escape (int argc, char **argv)
{
  struct escape_args a;

  if (parse_escape_args (argc, argv, &a) < 0)
    return usage ();
  if (refuse_outside_sandbox (a.host_ns) < 0)
    return 2;
  /* Before anything else opens an fd of its own.  */
  check_fds (a.expect_fds);
  check_namespaces (a.host_ns);
  check_status ();
  check_securebits ();
  check_foreign_arch ();
  check_host_files (a.secret, a.host_pid);
  check_writes ();
  check_proc_dev (a.dev_pts);
  check_setuid ();
  check_mounts ();
  check_namespace_calls (a.secret);
  check_host_pid (a.host_pid);
  check_network (a.port);
  check_keys_bpf_perf ();
  check_kernel_calls ();
  check_host_state_calls ();
  printf ("tr-probe escape: %d attempts, %d escaped\n", n_attempts, n_escaped);
  return n_escaped ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* Bombs                                                               */
/* ------------------------------------------------------------------ */

/* Safety caps: past these the limit did not hold, and the probe stops on
 * its own rather than hurt the host.  */
#define FORK_CAP 4096
#define MEM_CAP_MIB 2048
#define MAP_CAP_GIB 64
#define DISK_CAP (4ull << 30)
#define FD_CAP (1 << 20)

static int
cmd_forkbomb (void)
{
  static pid_t children[FORK_CAP];
  int n = 0;

  fflush (stdout);
  for (;;)
    {
      pid_t pid = fork ();

      if (pid == 0)
        {
          /* Children just sit there, holding their slot.  */
          for (;;)
            pause ();
        }
      if (pid < 0)
        {
          int e = errno;
          printf ("tr-probe forkbomb: fork failed after %d children: %s\n", n, ename (e));
          return e == EAGAIN ? 0 : 1;
        }
      children[n++] = pid;
      if (n >= FORK_CAP)
        {
          /* Only our own children, by pid: never a process group that
           * could include whoever started us.  */
          for (int i = 0; i < n; i++)
            kill (children[i], SIGKILL);
          printf ("tr-probe forkbomb: NOT CONTAINED: %d children and fork still works\n", n);
          return 1;
        }
    }
}

static int
cmd_membomb (int argc, char **argv)
{
  unsigned long cap = argc > 0 ? strtoul (argv[0], NULL, 10) : MEM_CAP_MIB;
  unsigned long mib;

  for (mib = 0; mib < cap; mib++)
    {
      char *p = mmap (NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

      if (p == MAP_FAILED)
        {
          int e = errno;
          printf ("tr-probe membomb: allocation failed after %lu MiB: %s\n", mib, ename (e));
          return e == ENOMEM ? 0 : 1;
        }
      /* Touch every page, so the memory is really used.  */
      memset (p, 0xa5, MIB);
    }
  printf ("tr-probe membomb: NOT CONTAINED: %lu MiB allocated and touched\n", mib);
  return 1;
}

/* Writable private mappings, never touched (no memory is used): what
 * RLIMIT_DATA (or RLIMIT_AS) counts.  Stops at MAX_GIB.  */
static int
cmd_mapbomb (int argc, char **argv)
{
  unsigned long cap = argc > 0 ? strtoul (argv[0], NULL, 10) : MAP_CAP_GIB;
  unsigned long gib;

  for (gib = 0; gib < cap; gib++)
    {
      void *p = mmap (NULL, 1ul << 30, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

      if (p == MAP_FAILED)
        {
          int e = errno;
          printf ("tr-probe mapbomb: mapping failed after %lu GiB: %s\n", gib, ename (e));
          return e == ENOMEM ? 0 : 1;
        }
    }
  printf ("tr-probe mapbomb: NOT CONTAINED: %lu GiB mapped\n", gib);
  return 1;
}

static _Noreturn void
cmd_cpuloop (void)
{
  volatile unsigned long spin = 0;

  printf ("tr-probe cpuloop: spinning\n");
  fflush (stdout);
  for (;;)
    spin++;
}

static int
cmd_diskfill (const char *dir)
{
  static char buf[64 * 1024];
  char path[4096];
  unsigned long long total = 0;
  int fd, e = 0;

  /* Without this, RLIMIT_FSIZE kills us (SIGXFSZ) instead of EFBIG.  */
  signal (SIGXFSZ, SIG_IGN);
  memset (buf, 0xa5, sizeof buf);
  snprintf (path, sizeof path, "%s/tr-probe-fill", dir);
  fd = open (path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      printf ("tr-probe diskfill: cannot create %s: %s\n", path, ename (errno));
      return 1;
    }
  while (total < DISK_CAP)
    {
      ssize_t n = write (fd, buf, sizeof buf);
      if (n < 0)
        {
          e = errno;
          break;
        }
      total += (unsigned long long) n;
    }
  close (fd);
  unlink (path);
  if (e == 0)
    {
      printf ("tr-probe diskfill: NOT CONTAINED: wrote %llu bytes to %s\n", total, path);
      return 1;
    }
  printf ("tr-probe diskfill: write failed after %llu bytes: %s\n", total, ename (e));
  return e == ENOSPC || e == EFBIG || e == EDQUOT ? 0 : 1;
}

static int
cmd_fdbomb (void)
{
  int n;

  for (n = 0; n < FD_CAP; n++)
    if (open ("/", O_RDONLY | O_DIRECTORY) < 0)
      {
        int e = errno;
        printf ("tr-probe fdbomb: open failed after %d new fds: %s\n", n, ename (e));
        return e == EMFILE ? 0 : 1;
      }
  printf ("tr-probe fdbomb: NOT CONTAINED: %d fds open\n", n);
  return 1;
}

int
main (int argc, char **argv)
{
  /* One line at a time: a killed probe still shows what it did.  */
  setvbuf (stdout, NULL, _IOLBF, 0);
  if (argc < 2)
    return usage ();
  if (strcmp (argv[1], "escape") == 0)
    return cmd_escape (argc - 1, argv + 1);
  if (strcmp (argv[1], "forkbomb") == 0)
    return cmd_forkbomb ();
  if (strcmp (argv[1], "membomb") == 0)
    return cmd_membomb (argc - 2, argv + 2);
  if (strcmp (argv[1], "mapbomb") == 0)
    return cmd_mapbomb (argc - 2, argv + 2);
  if (strcmp (argv[1], "cpuloop") == 0)
    cmd_cpuloop ();
  if (strcmp (argv[1], "diskfill") == 0 && argc == 3)
    return cmd_diskfill (argv[2]);
  if (strcmp (argv[1], "fdbomb") == 0)
    return cmd_fdbomb ();
  return usage ();
}
