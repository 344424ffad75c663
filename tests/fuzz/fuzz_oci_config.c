/* Fuzz the OCI config.json reader (shim/oci_config.c oci_config_parse):
 * the bundle's config comes from whoever built the container image and
 * bundle, so it is untrusted.  When a config parses and carries a
 * linux.seccomp profile, that is compiled too (shim/oci_seccomp.c).
 *
 * Invariants: either an error with a message, or a config whose process
 * (when present) has at least one argument and an absolute cwd, and whose
 * masked paths are absolute.  */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/runc.h"

#define CHECK(cond)                                                                                \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          fprintf (stderr, "fuzz_oci_config: invariant failed: %s (line %d)\n", #cond, __LINE__);  \
          abort ();                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct oci_config cfg;
  struct tr_error err;
  char *text = malloc (size + 1);

  if (text == NULL)
    return 0;
  memcpy (text, data, size);
  text[size] = '\0';
  memset (&cfg, 0, sizeof cfg);
  tr_error_clear (&err);
  if (oci_config_parse (text, "/nonexistent-fuzz-bundle", &cfg, &err) == 0)
    {
      /* "process" may be absent (create refuses that, not the reader). */
      if (cfg.has_process)
        CHECK (cfg.process.args != NULL && cfg.process.args[0] != NULL
               && cfg.process.cwd[0] == '/');
      for (size_t i = 0; i < cfg.n_masked; i++)
        CHECK (cfg.masked[i] != NULL && cfg.masked[i][0] == '/');
      if (cfg.seccomp)
        {
          struct oci_seccomp_prog p;
          memset (&p, 0, sizeof p);
          if (oci_seccomp_compile (cfg.seccomp, &p, &err) == 0)
            seccomp_program_free (&p.prog);
        }
    }
  else
    CHECK (err.msg[0] != '\0');
  ar_free_all ();
  free (text);
  return 0;
}
