/* Build-time tool: compile each seccomp profile (policy/seccomp/NAME.policy)
 * with libseccomp and write the BPF program to DIR/<profile>.bpf, which the
 * Makefile embeds into tactus-run (see sandbox/seccomp.c for why the
 * programs are not compiled or cached at run time).
 *
 *   bpfgen DIR  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "sandbox/internal.h"

static int
write_program (const char *dir, enum sandbox_seccomp which, struct tr_error *err)
{
  struct seccomp_program p;
  char path[4096];
  cleanup_close int fd = -1;
  size_t size;

  if (seccomp_program_compile (which, &p, err) < 0)
    return -1;
  size = p.prog.len * sizeof (struct sock_filter);
  snprintf (path, sizeof path, "%s/%s.bpf", dir, seccomp_profile_name (which));
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write (fd, p.prog.filter, size) != (ssize_t) size)
    {
      seccomp_program_free (&p);
      return tr_fail (err, errno, "write %s", path);
    }
  seccomp_program_free (&p);
  return 0;
}

int
main (int argc, char **argv)
{
  struct tr_error err;

  if (argc != 2)
    {
      fprintf (stderr, "usage: bpfgen DIR\n");
      return 2;
    }
  tr_error_clear (&err);
  for (int w = 0; w < SECCOMP_PROGRAMS__COUNT; w++)
    if (write_program (argv[1], (enum sandbox_seccomp) w, &err) < 0)
      {
        tr_error_print (&err);
        return 1;
      }
  return 0;
}
