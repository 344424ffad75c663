#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    case 'k':
    case 'K':
      shift = 10;
      end++;
      break;
    case 'm':
    case 'M':
      shift = 20;
      end++;
      break;
    case 'g':
    case 'G':
      shift = 30;
      end++;
      break;
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

int
parse_param (struct cJSON *params, const char *kv)
{
  const char *eq = strchr (kv, '=');
  char key[256];

  if (eq == NULL || eq == kv || (size_t) (eq - kv) >= sizeof key)
    return -1;
  memcpy (key, kv, (size_t) (eq - kv));
  key[eq - kv] = '\0';
  cJSON_DeleteItemFromObjectCaseSensitive (params, key);
  return cJSON_AddStringToObject (params, key, eq + 1) ? 0 : -1;
}
