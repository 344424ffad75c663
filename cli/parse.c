#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "cli/cli.h"

int
parse_uint (const char *s, uint64_t *out)
{
  char *end;
  unsigned long long v;

  if (s == NULL || *s < '0' || *s > '9')
    return -1;
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno || *end)
    return -1;
  *out = v;
  return 0;
}

int
parse_size (const char *s, uint64_t *out)
{
  char *end;
  unsigned long long v;
  unsigned shift = 0;

  if (s == NULL || *s < '0' || *s > '9')
    return -1;
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno)
    return -1;
  switch (*end)
    {
    case '\0':
      break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default:
      return -1;
    }
  if (*end == 'i' || *end == 'b' || *end == 'B')
    end++;
  if (*end || (shift && v > (~0ull >> shift)))
    return -1;
  *out = v << shift;
  return 0;
}

int
parse_seconds (const char *s, double *out)
{
  char *end;
  double v;

  if (s == NULL || *s == '\0')
    return -1;
  v = strtod (s, &end);
  if (*end == 's')
    end++;
  if (*end || !isfinite (v) || v < 0)
    return -1;
  *out = v;
  return 0;
}
