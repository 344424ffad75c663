/* A long-lived server forks the processes that become cages.  Its
 * environment may hold secrets (API keys that its broker reads when a call
 * is made): they must stay readable to the server, but no fork of it
 * should show them in /proc/PID/environ, which the kernel serves from the
 * block [env_start, env_end) it placed at exec, whatever environ points to
 * later.  */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/environ.h"

extern char **environ;

/* env_start and env_end: fields 50 and 51 of /proc/self/stat.  */
static int
env_block (uintptr_t *start, uintptr_t *end)
{
  char buf[2048], *p;
  FILE *f = fopen ("/proc/self/stat", "re");
  size_t n;
  int field = 2;

  if (f == NULL)
    return -1;
  n = fread (buf, 1, sizeof buf - 1, f);
  fclose (f);
  buf[n] = '\0';
  /* The command name (field 2) may hold spaces and parentheses: count
   * from its last ')'.  */
  p = strrchr (buf, ')');
  if (p == NULL)
    return -1;
  for (p++; *p && field < 50; p++)
    if (*p == ' ')
      field++;
  if (sscanf (p, " %" SCNuPTR " %" SCNuPTR, start, end) != 2 || *start >= *end)
    return -1;
  return 0;
}

int
environ_detach (void)
{
  uintptr_t start = 0, end = 0;
  size_t n = 0;
  char **copy;

  for (char **e = environ; e && *e; e++)
    n++;
  copy = calloc (n + 1, sizeof *copy);
  if (copy == NULL)
    return -1;
  for (size_t i = 0; i < n; i++)
    if ((copy[i] = strdup (environ[i])) == NULL)
      {
        for (size_t j = 0; j < i; j++)
          free (copy[j]);
        free (copy);
        return -1;
      }
  /* Only the strings inside the exec block are wiped: one that setenv or
   * putenv placed elsewhere may belong to someone else.  */
  if (env_block (&start, &end) == 0)
    for (size_t i = 0; i < n; i++)
      {
        uintptr_t s = (uintptr_t) environ[i];
        if (s >= start && s < end)
          explicit_bzero (environ[i], strnlen (environ[i], end - s));
      }
  environ = copy; /* the old array is the kernel's block or libc's: not ours to free */
  return 0;
}

void
environ_wipe (void)
{
  for (char **e = environ; e && *e; e++)
    explicit_bzero (*e, strlen (*e));
  clearenv ();
}
