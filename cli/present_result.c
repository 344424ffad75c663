/* The final result, for people (present.h): indented JSON with a stable
 * key order and numbers as people write them.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <math.h> /* isfinite: a macro, no libm */
#include <stdlib.h>
#include <string.h>

#include "cli/present.h"

void present_json_string (FILE *f, const char *s);

void
present_number (double v, char *buf, size_t size)
{
  if (!isfinite (v))
    {
      snprintf (buf, size, "null");
      return;
    }
  /* Integers (a duration in ms, a count) without a fraction; others with
   * 15 significant digits, as --json has them (0.1 + 0.2 shows as 0.3).  */
  if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double) (long long) v)
    {
      snprintf (buf, size, "%.0f", v);
      return;
    }
  snprintf (buf, size, "%.15g", v);
}

static int
order_of (const cJSON *order, const char *key)
{
  int i = 0;
  const cJSON *o;

  cJSON_ArrayForEach (o, order)
  {
    if (cJSON_IsString (o) && key && strcmp (o->valuestring, key) == 0)
      return i;
    i++;
  }
  return -1;
}

struct keyed
{
  const cJSON *item;
  int rank; /* its place in the declared order, or -1 */
};

static int
cmp_keyed (const void *a, const void *b)
{
  const struct keyed *x = a, *y = b;
  if (x->rank >= 0 || y->rank >= 0)
    {
      if (x->rank < 0)
        return 1;
      if (y->rank < 0)
        return -1;
      return x->rank - y->rank;
    }
  return strcmp (x->item->string ? x->item->string : "", y->item->string ? y->item->string : "");
}

static void
pretty (FILE *f, const cJSON *x, const cJSON *order, int indent, int depth)
{
  char num[64];
  int n = cJSON_GetArraySize (x);

  if (depth > 200)
    {
      fputs ("…", f);
      return;
    }
  if (cJSON_IsString (x))
    present_json_string (f, x->valuestring);
  else if (cJSON_IsNumber (x))
    {
      present_number (x->valuedouble, num, sizeof num);
      fputs (num, f);
    }
  else if (cJSON_IsBool (x))
    fputs (cJSON_IsTrue (x) ? "true" : "false", f);
  else if (cJSON_IsArray (x) && n > 0)
    {
      int i = 0;
      fputs ("[\n", f);
      for (const cJSON *c = x->child; c; c = c->next, i++)
        {
          fprintf (f, "%*s", indent + 2, "");
          pretty (f, c, NULL, indent + 2, depth + 1);
          fputs (c->next ? ",\n" : "\n", f);
        }
      fprintf (f, "%*s]", indent, "");
    }
  else if (cJSON_IsObject (x) && n > 0)
    {
      struct keyed *items = calloc ((size_t) n, sizeof *items);
      int i = 0;
      if (items == NULL)
        return;
      for (const cJSON *c = x->child; c && i < n; c = c->next, i++)
        items[i] = (struct keyed){ c, depth == 0 ? order_of (order, c->string) : -1 };
      qsort (items, (size_t) n, sizeof *items, cmp_keyed);
      fputs ("{\n", f);
      for (i = 0; i < n; i++)
        {
          fprintf (f, "%*s", indent + 2, "");
          present_json_string (f, items[i].item->string ? items[i].item->string : "");
          fputs (": ", f);
          pretty (f, items[i].item, NULL, indent + 2, depth + 1);
          fputs (i + 1 < n ? ",\n" : "\n", f);
        }
      fprintf (f, "%*s}", indent, "");
      free (items);
    }
  else if (cJSON_IsArray (x))
    fputs ("[]", f);
  else if (cJSON_IsObject (x))
    fputs ("{}", f);
  else
    fputs ("null", f);
}

void
present_json_pretty (FILE *f, const cJSON *x, const cJSON *order, int indent)
{
  pretty (f, x, order, indent, 0);
}
