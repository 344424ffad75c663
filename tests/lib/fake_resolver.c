/* A test resolver, preloaded into tactus-run (LD_PRELOAD) by the egress
 * tests: getaddrinfo answers names from a file instead of DNS, and can
 * change its answer from one lookup to the next, as a DNS server doing a
 * rebinding attack does.  No project code: it stands for the network.
 *
 *   TR_FAKE_HOSTS=FILE      lines "NAME ANSWER1 ANSWER2 ...", each ANSWER a
 *                           comma-separated list of addresses; the Nth
 *                           lookup of NAME gets ANSWERn (the last repeats)
 *   TR_FAKE_HOSTS_LOG=FILE  every lookup appends "NAME\n" (O_APPEND: the
 *                           proxy's connection processes share the count)
 * A name the file does not list fails (EAI_NONAME); addresses are passed
 * to the real getaddrinfo.  */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*gai_fn) (const char *, const char *, const struct addrinfo *, struct addrinfo **);

static int
count_lookups (const char *log, const char *name)
{
  FILE *f = fopen (log, "re");
  char line[300];
  int n = 0;

  if (f == NULL)
    return 0;
  while (fgets (line, sizeof line, f))
    {
      line[strcspn (line, "\n")] = '\0';
      n += strcmp (line, name) == 0;
    }
  fclose (f);
  return n;
}

int
getaddrinfo (const char *node, const char *service, const struct addrinfo *hints,
             struct addrinfo **res)
{
  gai_fn real = (gai_fn) dlsym (RTLD_NEXT, "getaddrinfo");
  const char *hosts = getenv ("TR_FAKE_HOSTS"), *log = getenv ("TR_FAKE_HOSTS_LOG");
  struct addrinfo numeric = { 0 }, *probe = NULL, *out = NULL, **tail = &out;
  char line[2000], *answers[32];
  int nth, nanswers = 0, rc = EAI_NONAME;
  FILE *f;

  if (node == NULL || hosts == NULL)
    return real (node, service, hints, res);
  numeric.ai_flags = AI_NUMERICHOST;
  numeric.ai_family = AF_UNSPEC;
  if (real (node, NULL, &numeric, &probe) == 0)
    {
      freeaddrinfo (probe);
      return real (node, service, hints, res);
    }
  if (log)
    {
      int fd;
      nth = count_lookups (log, node);
      fd = open (log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
      if (fd >= 0)
        {
          dprintf (fd, "%s\n", node);
          close (fd);
        }
    }
  else
    nth = 0;
  f = fopen (hosts, "re");
  if (f == NULL)
    return EAI_NONAME;
  while (fgets (line, sizeof line, f))
    {
      char *save = NULL, *name = strtok_r (line, " \t\n", &save), *a;
      if (name == NULL || strcasecmp (name, node) != 0)
        continue;
      while (nanswers < 32 && (a = strtok_r (NULL, " \t\n", &save)) != NULL)
        answers[nanswers++] = a;
      break;
    }
  fclose (f);
  if (nanswers > 0)
    {
      char *save = NULL, *addr;
      for (addr = strtok_r (answers[nth < nanswers ? nth : nanswers - 1], ",", &save); addr;
           addr = strtok_r (NULL, ",", &save))
        {
          struct addrinfo h = hints ? *hints : (struct addrinfo){ 0 }, *one = NULL;
          h.ai_flags |= AI_NUMERICHOST;
          if (real (addr, service, &h, &one) == 0)
            {
              *tail = one;
              while (*tail)
                tail = &(*tail)->ai_next;
            }
        }
      rc = out ? 0 : EAI_NONAME;
    }
  *res = out;
  return rc;
}
