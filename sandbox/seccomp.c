/* Seccomp at run time: the programs were compiled from policy/seccomp/
 * at build time (tools/bpfgen.c) and are part of this binary, so a run
 * neither compiles nor reads anything to get its filter.
 *
 * Nothing is kept on disk between runs.  A cache file would be writable by
 * the user who runs tactus-run, and the default workspace is that user's
 * current directory: a run started in $HOME could rewrite a cached program
 * under ~/.cache and switch seccomp off for every later run.  Programs that
 * live in the executable's read-only data cannot be reached from a run.
 *
 * `sandbox status` and `sandbox rebuild` compile the profile text again
 * with this host's libseccomp and compare, so a binary whose programs do
 * not match its own profiles is reported.  */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/internal.h"

extern const struct sock_filter tr_bpf_vm[], tr_bpf_vm_end[];
extern const struct sock_filter tr_bpf_vm_jit[], tr_bpf_vm_jit_end[];
extern const struct sock_filter tr_bpf_native[], tr_bpf_native_end[];
extern const struct sock_filter tr_bpf_native_nounix[], tr_bpf_native_nounix_end[];
extern const struct sock_filter tr_bpf_supervise_create[], tr_bpf_supervise_create_end[];
extern const struct sock_filter tr_bpf_supervise_connect[], tr_bpf_supervise_connect_end[];
extern const struct sock_filter tr_bpf_supervise_all[], tr_bpf_supervise_all_end[];

int
seccomp_program_get (enum sandbox_seccomp which, struct seccomp_program *out, struct tr_error *err)
{
  const struct sock_filter *start, *end;

  memset (out, 0, sizeof *out);
  switch ((int) which)
    {
    case SANDBOX_SECCOMP_VM:
      start = tr_bpf_vm, end = tr_bpf_vm_end;
      break;
    case SANDBOX_SECCOMP_VM_JIT:
      start = tr_bpf_vm_jit, end = tr_bpf_vm_jit_end;
      break;
    case SANDBOX_SECCOMP_NATIVE:
      start = tr_bpf_native, end = tr_bpf_native_end;
      break;
    case SECCOMP_ADDON_NOUNIX:
      start = tr_bpf_native_nounix, end = tr_bpf_native_nounix_end;
      break;
    case SECCOMP_ADDON_SUPERVISE_CREATE:
      start = tr_bpf_supervise_create, end = tr_bpf_supervise_create_end;
      break;
    case SECCOMP_ADDON_SUPERVISE_CONNECT:
      start = tr_bpf_supervise_connect, end = tr_bpf_supervise_connect_end;
      break;
    case SECCOMP_ADDON_SUPERVISE_ALL:
      start = tr_bpf_supervise_all, end = tr_bpf_supervise_all_end;
      break;
    default:
      return tr_fail (err, EINVAL, "seccomp: unknown profile %d", (int) which);
    }
  if (end <= start || end - start > BPF_MAXINSNS)
    return tr_fail (err, ENOEXEC,
                    "seccomp: the built-in %s program is empty or too long "
                    "(rebuild tactus-run)",
                    seccomp_profile_name (which));
  /* The kernel copies the program; it is never written through this.  */
  out->prog.filter = (struct sock_filter *) start;
  out->prog.len = (unsigned short) (end - start);
  out->builtin = true;
  return 0;
}

int
seccomp_program_load (const struct seccomp_program *p, struct tr_error *err)
{
  if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p->prog) < 0)
    return tr_fail (err, errno, "seccomp: install the filter");
  return 0;
}

int
seccomp_program_load_listener (const struct seccomp_program *p, struct tr_error *err)
{
  int fd = (int) syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                          &p->prog);
  if (fd < 0)
    return tr_fail (err, errno,
                    "seccomp: install the supervised filter (user notification needs Linux 5.0, "
                    "descriptor injection 5.14)");
  return fd;
}

int
seccomp_builtin_verify (enum sandbox_seccomp which, struct seccomp_check *out, struct tr_error *err)
{
  struct seccomp_program built, now = { 0 };

  memset (out, 0, sizeof *out);
  if (seccomp_program_get (which, &built, err) < 0
      || seccomp_program_compile (which, &now, err) < 0)
    return -1;
  out->builtin_insns = built.prog.len;
  out->compiled_insns = now.prog.len;
  out->match
      = built.prog.len == now.prog.len
        && memcmp (built.prog.filter, now.prog.filter, built.prog.len * sizeof (struct sock_filter))
               == 0;
  seccomp_program_free (&now);
  return 0;
}

/* Where versions before the programs were built in kept a cache.  */
static bool
legacy_cache_dir (char *out, size_t size)
{
  const char *xdg = getenv ("XDG_CACHE_HOME"), *home = getenv ("HOME");

  if (geteuid () == 0)
    snprintf (out, size, "/var/cache/tactus-run");
  else if (xdg && *xdg == '/')
    snprintf (out, size, "%s/tactus-run", xdg);
  else if (home && *home == '/')
    snprintf (out, size, "%s/.cache/tactus-run", home);
  else
    return false;
  return true;
}

int
seccomp_legacy_cache (char *dir, size_t size, bool remove, int *found)
{
  cleanup_close int dfd = -1;
  DIR *d;
  struct dirent *de;

  *found = 0;
  if (!legacy_cache_dir (dir, size))
    return 0;
  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0)
    return errno == ENOENT ? 0 : -errno;
  d = fdopendir (dup (dfd));
  if (d == NULL)
    return -errno;
  while ((de = readdir (d)) != NULL)
    {
      size_t n = strlen (de->d_name);
      if (n < 5 || strcmp (de->d_name + n - 4, ".bpf") != 0)
        continue;
      (*found)++;
      if (remove && unlinkat (dfd, de->d_name, 0) < 0)
        {
          int e = errno;
          closedir (d);
          return -e;
        }
    }
  closedir (d);
  if (remove)
    unlinkat (AT_FDCWD, dir, AT_REMOVEDIR); /* only if now empty */
  return 0;
}
