#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli/untrusted.h"

const char *
ujson_str (const cJSON *o, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, key);
  return cJSON_IsString (v) ? v->valuestring : NULL;
}

double
ujson_num (const cJSON *o, const char *key, double def)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, key);
  return cJSON_IsNumber (v) ? v->valuedouble : def;
}

void
untrusted_clean (char *t)
{
  for (unsigned char *p = (unsigned char *) t; p && *p; p++)
    if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
      *p = '?';
}

void
untrusted_clean_tree (cJSON *x)
{
  for (; x; x = x->next)
    {
      if (cJSON_IsString (x))
        untrusted_clean (x->valuestring);
      if (x->string)
        untrusted_clean (x->string);
      untrusted_clean_tree (x->child);
    }
}

char *
untrusted_clean_dup (const char *t)
{
  char *c = t ? strdup (t) : NULL;
  untrusted_clean (c);
  return c;
}
