#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "common/suggest.h"

#define NAME_MAX_LEN 127

size_t
tr_name_distance (const char *a, const char *b)
{
  size_t la = strnlen (a, NAME_MAX_LEN), lb = strnlen (b, NAME_MAX_LEN);
  /* Three rows of the table: i-2, i-1, i.  */
  size_t rows[3][NAME_MAX_LEN + 1];
  size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];

  for (size_t j = 0; j <= lb; j++)
    prev[j] = j;
  for (size_t i = 1; i <= la; i++)
    {
      int ca = tolower ((unsigned char) a[i - 1]);
      cur[0] = i;
      for (size_t j = 1; j <= lb; j++)
        {
          int cb = tolower ((unsigned char) b[j - 1]);
          size_t v = prev[j] + 1;
          if (cur[j - 1] + 1 < v)
            v = cur[j - 1] + 1;
          if (prev[j - 1] + (ca != cb) < v)
            v = prev[j - 1] + (ca != cb);
          if (i > 1 && j > 1 && ca == tolower ((unsigned char) b[j - 2])
              && tolower ((unsigned char) a[i - 2]) == cb && pp[j - 2] + 1 < v)
            v = pp[j - 2] + 1;
          cur[j] = v;
        }
      size_t *t = pp;
      pp = prev, prev = cur, cur = t;
    }
  return prev[lb];
}

const char *
tr_suggest (const char *word, const char *const *candidates, size_t n)
{
  const char *best = NULL;
  size_t best_d = (size_t) -1, lw;

  if (word == NULL || *word == '\0')
    return NULL;
  lw = strlen (word);
  for (size_t i = 0; i < n; i++)
    {
      const char *c = candidates[i];
      size_t lc, d, limit;
      if (c == NULL || *c == '\0' || strcmp (c, word) == 0)
        continue;
      lc = strlen (c);
      d = strcasecmp (c, word) == 0 ? 0 : tr_name_distance (word, c);
      limit = (lc > lw ? lc : lw) / 3;
      if (limit < 1)
        limit = 1;
      if ((d <= limit || (lw >= 3 && strncasecmp (c, word, lw) == 0)) && d < best_d)
        best = c, best_d = d;
    }
  return best;
}
