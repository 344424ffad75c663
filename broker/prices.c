/* Prices for a call's cost when the provider reports none: a small table
 * in data (data/model_prices.json, built in by prices.S), overridable in
 * the config (model_prices).  Parsed on the first priced call only.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/llm.h"

extern const char tr_model_prices[], tr_model_prices_end[];

static cJSON *table;

static int
price_of (const cJSON *entry, double *in, double *out)
{
  const cJSON *i = cJSON_GetObjectItemCaseSensitive (entry, "input");
  const cJSON *o = cJSON_GetObjectItemCaseSensitive (entry, "output");

  if (!cJSON_IsNumber (i) || !cJSON_IsNumber (o) || !(i->valuedouble >= 0)
      || !(o->valuedouble >= 0))
    return -1;
  *in = i->valuedouble;
  *out = o->valuedouble;
  return 0;
}

/* The entry of MAP whose name is MODEL, else the longest name that starts
 * MODEL and ends where a version or date begins (-, :, @, .).  */
static const cJSON *
best (const cJSON *map, const char *model)
{
  const cJSON *e, *found = NULL;
  size_t found_len = 0;

  cJSON_ArrayForEach (e, map)
  {
    size_t n = strlen (e->string);
    if (strcmp (e->string, model) == 0)
      return e;
    if (n > found_len && strncmp (e->string, model, n) == 0 && strchr ("-:@.", model[n]))
      found = e, found_len = n;
  }
  return found;
}

int
prices_lookup (const char *provider, const char *model, const char *overrides, double *in,
               double *out)
{
  const cJSON *e;
  char full[600];
  int r = -1;

  /* A Bedrock cross-region inference profile: us.anthropic.claude-...  */
  if (strcmp (provider, "bedrock") == 0)
    for (const char *const *p = (const char *const[]){ "us.", "eu.", "apac.", "us-gov.", NULL }; *p;
         p++)
      if (strncmp (model, *p, strlen (*p)) == 0)
        {
          model += strlen (*p);
          break;
        }
  if (overrides)
    {
      cJSON *o = cJSON_Parse (overrides);
      snprintf (full, sizeof full, "%s/%s", provider, model);
      e = cJSON_GetObjectItemCaseSensitive (o, full);
      if (e == NULL)
        e = cJSON_GetObjectItemCaseSensitive (o, model);
      if (e)
        r = price_of (e, in, out);
      cJSON_Delete (o);
      if (r == 0)
        return 0;
    }
  if (table == NULL)
    table
        = cJSON_ParseWithLength (tr_model_prices, (size_t) (tr_model_prices_end - tr_model_prices));
  e = best (cJSON_GetObjectItemCaseSensitive (table, provider), model);
  return e ? price_of (e, in, out) : -1;
}
