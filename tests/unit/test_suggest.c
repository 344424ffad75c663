/* common/suggest.c: the "did you mean" rule (the Lua side,
 * vm/lua/similarity.lua closest(), is checked against the same cases by
 * tests/integration/compat.sh).  */
#include <string.h>

#include "common/suggest.h"
#include "tests/unit/unit.h"

static void
expect (const char *word, const char *const *cands, size_t n, const char *want)
{
  const char *got = tr_suggest (word, cands, n);
  char name[256];

  snprintf (name, sizeof name, "suggest: '%s' -> %s", word, want ? want : "nothing");
  report ((got == NULL && want == NULL) || (got && want && strcmp (got, want) == 0), name, "got %s",
          got ? got : "nothing");
}

int
main (void)
{
  static const char *const opts[] = { "mock-all", "mock",       "real",        "real-all", "json",
                                      "param",    "no-sandbox", "interactive", "log-level" };
  static const char *const keys[] = { "timeout", "memory", "sandbox", "workspace", "storage_path" };
  size_t no = sizeof opts / sizeof opts[0], nk = sizeof keys / sizeof keys[0];

  report (tr_name_distance ("agnet", "agent") == 1, "distance: a swap of neighbours is one edit",
          "%zu", tr_name_distance ("agnet", "agent"));
  report (tr_name_distance ("Agent", "agent") == 0, "distance: case is ignored", "%zu",
          tr_name_distance ("Agent", "agent"));
  report (tr_name_distance ("", "abc") == 3, "distance: from empty", "%zu",
          tr_name_distance ("", "abc"));
  expect ("jsn", opts, no, "json");
  expect ("parm", opts, no, "param");
  expect ("interactiv", opts, no, "interactive");
  expect ("mock-al", opts, no, "mock-all");
  expect ("mok", opts, no, "mock");
  expect ("log-levle", opts, no, "log-level");
  expect ("nosandbox", opts, no, "no-sandbox");
  expect ("verbose", opts, no, NULL);
  expect ("xyzzy", opts, no, NULL);
  expect ("", opts, no, NULL);
  expect ("json", opts, no, NULL); /* itself is never suggested */
  expect ("timout", keys, nk, "timeout");
  expect ("Memory", keys, nk, "memory");
  expect ("stor", keys, nk, "storage_path");
  expect ("wrkspace", keys, nk, "workspace");
  {
    /* Long names are compared by their first 127 bytes, without overflow.  */
    char a[400], b[400];
    const char *c[1] = { b };
    memset (a, 'x', sizeof a - 1), a[sizeof a - 1] = '\0';
    memset (b, 'x', sizeof b - 1), b[sizeof b - 1] = '\0';
    b[10] = 'y';
    report (tr_suggest (a, c, 1) == b, "suggest: very long names", "no suggestion");
  }
  return failures ? 1 : 0;
}
