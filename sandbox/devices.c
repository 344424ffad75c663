/* Devices of a bundle container.
 *
 * Nodes: the default set (null, zero, full, random, urandom, tty) plus the
 * config's, made with mknodat under the container's /dev — opened without
 * following any symlink, so a symlinked /dev in the image is refused
 * rather than followed.  In a user namespace mknod is impossible: the
 * host's node at the same path is bind-mounted instead, after checking it
 * is the device asked for.  Then the /dev symlinks the spec lists
 * (fd, stdin, stdout, stderr) and ptmx -> pts/ptmx.
 *
 * The device cgroup: cgroup v2 has no devices controller; access is
 * decided by a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the
 * container's cgroup.  It is assembled here from the rules (last match
 * wins, as runc's), with the default allow list appended.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/container.h"
#include "sandbox/internal.h"

static const struct ct_device default_devices[] = {
  { 'c', "/dev/null", 1, 3, 0666, true, 0, 0, "default device /dev/null" },
  { 'c', "/dev/zero", 1, 5, 0666, true, 0, 0, "default device /dev/zero" },
  { 'c', "/dev/full", 1, 7, 0666, true, 0, 0, "default device /dev/full" },
  { 'c', "/dev/random", 1, 8, 0666, true, 0, 0, "default device /dev/random" },
  { 'c', "/dev/urandom", 1, 9, 0666, true, 0, 0, "default device /dev/urandom" },
  { 'c', "/dev/tty", 5, 0, 0666, true, 0, 0, "default device /dev/tty" },
};

static int
bind_host_node (int dirfd, const char *base, const struct ct_device *d, struct tr_error *err)
{
  cleanup_close int tree = -1;
  cleanup_close int dst = -1;
  struct stat st;
  int f;

  tree = open_tree (AT_FDCWD, d->path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0)
    return tr_fail (err, errno,
                    "%s: no node to bind from the host (a user namespace cannot "
                    "mknod)",
                    d->what);
  if (fstat (tree, &st) < 0)
    return tr_fail (err, errno, "%s", d->what);
  if ((d->type == 'b' ? !S_ISBLK (st.st_mode) : !S_ISCHR (st.st_mode))
      || st.st_rdev != makedev (d->major, d->minor))
    return tr_fail (err, 0, "%s: the host's %s is not device %u:%u", d->what, d->path, d->major,
                    d->minor);
  f = openat (dirfd, base, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (f < 0 && errno != EEXIST)
    return tr_fail (err, errno, "%s: create the mount point", d->what);
  if (f >= 0)
    close (f);
  dst = openat (dirfd, base, O_PATH | O_CLOEXEC | O_NOFOLLOW);
  if (dst < 0)
    return tr_fail (err, errno, "%s", d->what);
  return attach (tree, dst, d->what, err);
}

static int
make_node (int devfd, const struct ct_device *d, bool userns, struct tr_error *err)
{
  const char *rel = d->path + 5; /* after "/dev/" */
  cleanup_free char *dir = strdup (rel);
  cleanup_close int dirfd = -1;
  const char *base;
  char *slash;
  mode_t type;
  struct stat st;

  if (dir == NULL)
    return tr_fail (err, ENOMEM, "%s", d->what);
  slash = strrchr (dir, '/');
  if (slash)
    {
      *slash = '\0';
      base = rel + (slash - dir) + 1;
      dirfd = open_dir_in_root (devfd, dir, true, err);
    }
  else
    {
      base = rel;
      dirfd = fcntl (devfd, F_DUPFD_CLOEXEC, 0);
    }
  if (dirfd < 0)
    return tr_wrap (err, "%s", d->what);
  if (fstatat (dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      /* Already there (an image's own node, or listed twice): replace it,
       * unless something is mounted on it.  */
      if (unlinkat (dirfd, base, 0) < 0)
        return errno == EBUSY ? 0 : tr_fail (err, errno, "%s: remove the old node", d->what);
    }
  type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
  if (!userns && mknodat (dirfd, base, type | (d->mode & 0777), makedev (d->major, d->minor)) == 0)
    {
      if (fchownat (dirfd, base, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
        return tr_fail (err, errno, "%s: chown", d->what);
      if (fchmodat (dirfd, base, d->mode & 07777, 0) < 0)
        return tr_fail (err, errno, "%s: chmod", d->what);
      return 0;
    }
  if (!userns && errno != EPERM)
    return tr_fail (err, errno, "%s: mknod", d->what);
  if (d->type == 'p')
    return tr_fail (err, EPERM, "%s: mkfifo", d->what);
  return bind_host_node (dirfd, base, d, err);
}

int
devices_create (int rootfd, const struct ct_device *devs, size_t n, bool userns,
                struct tr_error *err)
{
  static const char *const links[][2] = {
    { "fd", "/proc/self/fd" },
    { "stdin", "/proc/self/fd/0" },
    { "stdout", "/proc/self/fd/1" },
    { "stderr", "/proc/self/fd/2" },
  };
  cleanup_close int devfd = -1;
  struct stat st;

  devfd = sys_openat2 (rootfd, "dev", O_PATH | O_DIRECTORY | O_CLOEXEC,
                       RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (devfd < 0 && errno == ENOENT)
    {
      if (mkdirat (rootfd, "dev", 0755) < 0 && errno != EEXIST)
        return tr_fail (err, errno, "create /dev");
      devfd = sys_openat2 (rootfd, "dev", O_PATH | O_DIRECTORY | O_CLOEXEC,
                           RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    }
  if (devfd < 0)
    return tr_fail (err, errno, "/dev in the rootfs (it must be a directory, not a symlink)");

  for (size_t i = 0; i < sizeof default_devices / sizeof default_devices[0]; i++)
    {
      bool overridden = false;
      for (size_t k = 0; k < n && !overridden; k++)
        overridden = strcmp (devs[k].path, default_devices[i].path) == 0;
      if (!overridden && make_node (devfd, &default_devices[i], userns, err) < 0)
        return -1;
    }
  for (size_t i = 0; i < n; i++)
    if (make_node (devfd, &devs[i], userns, err) < 0)
      return -1;

  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
    if (symlinkat (links[i][1], devfd, links[i][0]) < 0 && errno != EEXIST)
      return tr_fail (err, errno, "symlink /dev/%s", links[i][0]);
  /* /dev/ptmx is the devpts instance's, when one is mounted.  */
  if (fstatat (devfd, "pts/ptmx", &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      if (fstatat (devfd, "ptmx", &st, AT_SYMLINK_NOFOLLOW) == 0 && unlinkat (devfd, "ptmx", 0) < 0
          && errno != EBUSY)
        return tr_fail (err, errno, "remove /dev/ptmx");
      if (symlinkat ("pts/ptmx", devfd, "ptmx") < 0 && errno != EEXIST)
        return tr_fail (err, errno, "symlink /dev/ptmx");
    }
  return 0;
}

/* ---- the cgroup v2 device filter ---- */

#define INSN(c, d, s, o, i)                                                                        \
  ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

struct prog
{
  struct bpf_insn *insns;
  size_t n, cap;
};

static int
emit (struct prog *p, struct bpf_insn insn)
{
  if (p->n == p->cap)
    {
      size_t cap = p->cap ? p->cap * 2 : 64;
      struct bpf_insn *ni = realloc (p->insns, cap * sizeof *ni);
      if (ni == NULL)
        return -1;
      p->insns = ni;
      p->cap = cap;
    }
  p->insns[p->n++] = insn;
  return 0;
}

/* One rule: falls through to the next rule when it does not match.
 *   r2 = type (BPF_DEVCG_DEV_*), r3 = access (BPF_DEVCG_ACC_*),
 *   r4 = major, r5 = minor  */
static int
emit_rule (struct prog *p, const struct ct_device_rule *r)
{
  struct bpf_insn body[8];
  int n = 0;
  unsigned acc = 0;

  if (r->access & CT_DEV_READ)
    acc |= BPF_DEVCG_ACC_READ;
  if (r->access & CT_DEV_WRITE)
    acc |= BPF_DEVCG_ACC_WRITE;
  if (r->access & CT_DEV_MKNOD)
    acc |= BPF_DEVCG_ACC_MKNOD;
  /* Count the checks first: each jumps over the rest of the block.  */
  if (r->type == 'c' || r->type == 'b')
    body[n++] = INSN (BPF_JMP | BPF_JNE | BPF_K, 2, 0, 0,
                      r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK);
  if (acc != (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD))
    {
      /* r1 = access & ~acc; any bit left: not covered by this rule */
      body[n++] = INSN (BPF_ALU64 | BPF_MOV | BPF_X, 1, 3, 0, 0);
      body[n++] = INSN (BPF_ALU64 | BPF_AND | BPF_K, 1, 0, 0, (int) (~acc & 7));
      body[n++] = INSN (BPF_JMP | BPF_JNE | BPF_K, 1, 0, 0, 0);
    }
  if (r->major >= 0)
    body[n++] = INSN (BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, (int) r->major);
  if (r->minor >= 0)
    body[n++] = INSN (BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, (int) r->minor);
  /* Fix the jump offsets: to just past "r0 = verdict; exit".  */
  for (int i = 0; i < n; i++)
    if (BPF_CLASS (body[i].code) == BPF_JMP)
      body[i].off = (short) (n - i - 1 + 2);
  for (int i = 0; i < n; i++)
    if (emit (p, body[i]) < 0)
      return -1;
  if (emit (p, INSN (BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, r->allow ? 1 : 0)) < 0
      || emit (p, INSN (BPF_JMP | BPF_EXIT, 0, 0, 0, 0)) < 0)
    return -1;
  /* 1: the rule matches everything, nothing after it is reachable.  */
  return n == 0;
}

int
devices_cgroup_filter (int cgfd, const struct ct_device_rule *rules, size_t n, struct tr_error *err)
{
  /* What the default nodes and a pty need (runc's allow list).  */
  static const struct ct_device_rule defaults[] = {
    { true, 'c', -1, -1, CT_DEV_MKNOD },
    { true, 'b', -1, -1, CT_DEV_MKNOD },
    { true, 'c', 1, 3, 7 },
    { true, 'c', 1, 5, 7 },
    { true, 'c', 1, 7, 7 },
    { true, 'c', 1, 8, 7 },
    { true, 'c', 1, 9, 7 },
    { true, 'c', 5, 0, 7 },
    { true, 'c', 5, 1, 7 },
    { true, 'c', 5, 2, 7 },
    { true, 'c', 136, -1, 7 },
    { true, 'c', 10, 200, 7 },
  };
  struct prog p = { 0 };
  union bpf_attr attr;
  char log[4096] = "";
  int fd = -1, r = -1, done = 0;
  const size_t nd = sizeof defaults / sizeof defaults[0];

  /* r1 = ctx: access_type (u32: access << 16 | type), major, minor */
  if (emit (&p, INSN (BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0)) < 0
      || emit (&p, INSN (BPF_ALU64 | BPF_AND | BPF_K, 2, 0, 0, 0xffff)) < 0
      || emit (&p, INSN (BPF_LDX | BPF_MEM | BPF_W, 3, 1, 0, 0)) < 0
      || emit (&p, INSN (BPF_ALU64 | BPF_RSH | BPF_K, 3, 0, 0, 16)) < 0
      || emit (&p, INSN (BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0)) < 0
      || emit (&p, INSN (BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0)) < 0)
    goto oom;
  /* Last match wins: the defaults (appended after the config's rules)
   * are checked first, then the config's rules from the last one.  */
  for (size_t i = nd + n; i > 0 && done == 0; i--)
    {
      const struct ct_device_rule *rule = i > n ? &defaults[i - 1 - n] : &rules[i - 1];
      done = emit_rule (&p, rule);
      if (done < 0)
        goto oom;
    }
  if (done == 0
      && (emit (&p, INSN (BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0)) < 0
          || emit (&p, INSN (BPF_JMP | BPF_EXIT, 0, 0, 0, 0)) < 0))
    goto oom;

  memset (&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t) (uintptr_t) p.insns;
  attr.insn_cnt = (uint32_t) p.n;
  attr.license = (uint64_t) (uintptr_t) "Apache";
  fd = (int) syscall (SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (fd < 0 && errno == EINVAL)
    {
      /* Again, with the verifier's log for the message.  */
      attr.log_buf = (uint64_t) (uintptr_t) log;
      attr.log_size = sizeof log;
      attr.log_level = 1;
      fd = (int) syscall (SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    }
  if (fd < 0)
    {
      r = tr_fail (err, errno, "device cgroup: load the BPF program%s%s", log[0] ? ": " : "", log);
      goto out;
    }
  memset (&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t) cgfd;
  attr.attach_bpf_fd = (uint32_t) fd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (syscall (SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr) < 0)
    r = tr_fail (err, errno, "device cgroup: attach the BPF program");
  else
    r = 0;
out:
  if (fd >= 0)
    close (fd);
  free (p.insns);
  return r;
oom:
  free (p.insns);
  return tr_fail (err, ENOMEM, "device cgroup");
}
