/* Fuzz the OCI seccomp profile compiler (shim/oci_seccomp.c): the
 * linux.seccomp object of a bundle's config (defaultAction, architectures,
 * flags, syscalls with actions, errnoRet and argument conditions), turned
 * into a BPF program with libseccomp.  Invariant: an error with a message,
 * or a program of 1..BPF_MAXINSNS instructions.  */
#include <cJSON.h>
#include <linux/filter.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/runc.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  cJSON *node = cJSON_ParseWithLength ((const char *) data, size);
  struct oci_seccomp_prog p;
  struct tr_error err;

  if (node == NULL)
    return 0;
  memset (&p, 0, sizeof p);
  tr_error_clear (&err);
  if (oci_seccomp_compile (node, &p, &err) == 0)
    {
      if (p.prog.prog.len == 0 || p.prog.prog.len > BPF_MAXINSNS)
        {
          fprintf (stderr, "fuzz_oci_seccomp: invariant failed: program of %u instructions\n",
                   p.prog.prog.len);
          abort ();
        }
      seccomp_program_free (&p.prog);
    }
  else if (err.msg[0] == '\0')
    {
      fprintf (stderr, "fuzz_oci_seccomp: invariant failed: an error without a message\n");
      abort ();
    }
  cJSON_Delete (node);
  ar_free_all ();
  return 0;
}
