#include "common/strv.h"

#include <stdlib.h>
#include <string.h>

size_t
strv_len (char *const *v)
{
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

int
strv_push (char ***v, const char *s)
{
  size_t n = strv_len (*v);
  char **nv = realloc (*v, (n + 2) * sizeof *nv);

  if (nv == NULL)
    return -1;
  *v = nv;
  nv[n] = strdup (s);
  nv[n + 1] = NULL;
  return nv[n] ? 0 : -1;
}

void
strv_free (char **v)
{
  for (char **p = v; p && *p; p++)
    free (*p);
  free (v);
}

void
strv_remove (char **v, const char *s)
{
  size_t out = 0;

  if (v == NULL)
    return;
  for (size_t i = 0; v[i]; i++)
    {
      if (strcmp (v[i], s) == 0)
        free (v[i]);
      else
        v[out++] = v[i];
    }
  v[out] = NULL;
}
