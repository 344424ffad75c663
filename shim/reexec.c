/* CVE-2019-5736: a container process that gets hold of /proc/<pid>/exe of
 * a runtime process (for instance by making the runtime exec a script
 * whose interpreter is /proc/self/exe) must not be able to write our
 * binary on the host.
 *
 * Before a command that starts a process inside a container (create, run,
 * exec), we make sure /proc/self/exe is not a writable handle: when it is
 * on a read-only mount or is a sealed memfd already, nothing is done;
 * otherwise we re-exec ourselves from
 *   1. a detached, read-only bind mount of our binary (open_tree +
 *      mount_setattr; no copy, needs CAP_SYS_ADMIN), or
 *   2. a memfd copy sealed against writes (F_SEAL_WRITE and friends).
 * The processes that enter the container are forks of the re-exec'd
 * process, so their exe is the protected one.  `tactus-run run` and every
 * other runc command never pay for this.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "shim/runc.h"

#define REEXEC_ENV "_TACTUS_RUNC_REEXEC"
#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

static bool
is_protected (int fd)
{
  struct statvfs sv;
  int seals;

  if (fstatvfs (fd, &sv) == 0 && (sv.f_flag & ST_RDONLY))
    return true;
  seals = fcntl (fd, F_GET_SEALS);
  return seals >= 0 && (seals & F_SEAL_WRITE);
}

static void
exec_fd (int fd, char **argv)
{
  syscall (SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
}

static int
sealed_copy (int src, struct tr_error *err)
{
  cleanup_close int m = memfd_create (RUNC_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  struct stat st;
  off_t off = 0;

  if (m < 0)
    return tr_fail (err, errno, "memfd_create");
  if (fstat (src, &st) < 0)
    return tr_fail (err, errno, "stat /proc/self/exe");
  while (off < st.st_size)
    {
      ssize_t n = sendfile (m, src, &off, (size_t) (st.st_size - off));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return tr_fail (err, n < 0 ? errno : EIO, "copy /proc/self/exe");
    }
  if (fchmod (m, 0555) < 0 && errno != EPERM)
    return tr_fail (err, errno, "chmod the copy");
  if (fcntl (m, F_ADD_SEALS, SEALS) < 0)
    return tr_fail (err, errno, "seal the copy");
  return steal_fd (&m);
}

int
reexec_protect (int argc, char **argv, struct tr_error *err)
{
  cleanup_close int self = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  cleanup_close int tree = -1;
  cleanup_close int copy = -1;
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV };

  (void) argc;
  if (self < 0)
    return tr_fail (err, errno, "CVE-2019-5736 protection: open /proc/self/exe");
  if (is_protected (self))
    {
      unsetenv (REEXEC_ENV);
      return 0;
    }
  if (getenv (REEXEC_ENV))
    return tr_fail (err, 0, "CVE-2019-5736 protection: the re-executed binary is still writable");
  if (setenv (REEXEC_ENV, "1", 1) < 0)
    return tr_fail (err, errno, "CVE-2019-5736 protection: setenv");

  tree = open_tree (AT_FDCWD, "/proc/self/exe", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree >= 0 && mount_setattr (tree, "", AT_EMPTY_PATH, &attr, sizeof attr) == 0)
    exec_fd (tree, argv);
  copy = sealed_copy (self, err);
  if (copy < 0)
    return tr_wrap (err,
                    "CVE-2019-5736 protection: no read-only bind of our binary (%s) and no "
                    "sealed copy",
                    tree < 0 ? strerror (errno) : "mount_setattr failed");
  exec_fd (copy, argv);
  return tr_fail (err, errno, "CVE-2019-5736 protection: exec the sealed copy of our binary");
}
