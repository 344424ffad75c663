/* Escaping and colours (present.h).  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/present.h"

int
present_color_parse (const char *s, enum present_color *c)
{
  if (strcmp (s, "auto") == 0)
    *c = PRESENT_COLOR_AUTO;
  else if (strcmp (s, "always") == 0)
    *c = PRESENT_COLOR_ALWAYS;
  else if (strcmp (s, "never") == 0)
    *c = PRESENT_COLOR_NEVER;
  else
    return -1;
  return 0;
}

void
present_init (struct present *p, FILE *f, enum present_color mode)
{
  const char *no_color = getenv ("NO_COLOR");
  const char *term = getenv ("TERM");

  memset (p, 0, sizeof *p);
  p->f = f;
  p->tty = f && isatty (fileno (f));
  /* NO_COLOR (no-color.org): set and not empty turns colour off unless
   * asked for explicitly with --color=always.  */
  p->always = mode == PRESENT_COLOR_ALWAYS;
  if (mode == PRESENT_COLOR_ALWAYS)
    p->color = f != NULL;
  else if (mode == PRESENT_COLOR_AUTO)
    p->color = p->tty && !(no_color && no_color[0]) && !(term && strcmp (term, "dumb") == 0);
}

const char *
present_sgr (const struct present *p, enum present_style s)
{
  static const char *const sgr[] = {
    [PS_RESET] = "\033[0m",       [PS_DIM] = "\033[2m",           [PS_BOLD] = "\033[1m",
    [PS_RED] = "\033[31m",        [PS_GREEN] = "\033[32m",        [PS_YELLOW] = "\033[33m",
    [PS_BLUE] = "\033[34m",       [PS_MAGENTA] = "\033[35m",      [PS_CYAN] = "\033[36m",
    [PS_BOLD_RED] = "\033[1;31m", [PS_BOLD_GREEN] = "\033[1;32m", [PS_BOLD_YELLOW] = "\033[1;33m",
  };
  return p && p->color ? sgr[s] : "";
}

/* ---- escaping ---- */

/* The length of the well-formed UTF-8 sequence at S (at most N bytes) and
 * its code point, or 0 when it is not one (RFC 3629: no overlong forms,
 * no surrogates, nothing past U+10FFFF).  */
static size_t
utf8_decode (const unsigned char *s, size_t n, uint32_t *cp)
{
  size_t len;
  uint32_t c, min;

  if (s[0] < 0x80)
    {
      *cp = s[0];
      return 1;
    }
  if ((s[0] & 0xe0) == 0xc0)
    len = 2, c = s[0] & 0x1f, min = 0x80;
  else if ((s[0] & 0xf0) == 0xe0)
    len = 3, c = s[0] & 0x0f, min = 0x800;
  else if ((s[0] & 0xf8) == 0xf0)
    len = 4, c = s[0] & 0x07, min = 0x10000;
  else
    return 0;
  if (len > n)
    return 0;
  for (size_t i = 1; i < len; i++)
    {
      if ((s[i] & 0xc0) != 0x80)
        return 0;
      c = (c << 6) | (s[i] & 0x3f);
    }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  *cp = c;
  return len;
}

/* Code points a terminal must never receive from the cage: the C0 and C1
 * controls and DEL (they start escape sequences, move the cursor, ring,
 * erase), and the invisible formatting characters that reorder or hide
 * what is shown (bidi embeddings, overrides and isolates, zero-width
 * characters, line/paragraph separators, tag characters).  */
static bool
hostile (uint32_t c)
{
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c || (c >= 0x200b && c <= 0x200f)
         || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x2069) || c == 0xfeff
         || (c >= 0xfff9 && c <= 0xfffb) || (c >= 0xe0000 && c <= 0xe007f);
}

/* A sink: a FILE, or a buffer.  */
struct sink
{
  FILE *f;
  char *buf;
  size_t size, len;
  bool full;
};

static void
sink_put (struct sink *k, const char *s, size_t n)
{
  if (k->f)
    {
      fwrite (s, 1, n, k->f);
      return;
    }
  if (k->len + n + 1 > k->size)
    {
      k->full = true;
      return;
    }
  memcpy (k->buf + k->len, s, n);
  k->len += n;
  k->buf[k->len] = '\0';
}

static void
escape_to (struct sink *k, const char *s, size_t max, const char *indent, unsigned flags)
{
  const unsigned char *p = (const unsigned char *) s;
  size_t n = strlen (s), done = 0;

  while (done < n && !k->full)
    {
      uint32_t c;
      size_t len = utf8_decode (p + done, n - done, &c);

      if (done >= max)
        {
          sink_put (k, "…", strlen ("…"));
          return;
        }
      if (len == 0)
        {
          sink_put (k, "?", 1);
          done++;
          continue;
        }
      if (c == '\n' && !(flags & PRESENT_ONE_LINE))
        {
          sink_put (k, "\n", 1);
          if (indent)
            sink_put (k, indent, strlen (indent));
        }
      else if (c == '\n')
        sink_put (k, "⏎", strlen ("⏎"));
      else if (c == '\t')
        sink_put (k, (flags & PRESENT_ONE_LINE) ? " " : "\t", 1);
      else if (hostile (c))
        sink_put (k, "?", 1);
      else
        sink_put (k, (const char *) p + done, len);
      done += len;
    }
}

void
present_put (FILE *f, const char *s, size_t max, const char *indent, unsigned flags)
{
  struct sink k = { .f = f };

  if (f && s)
    escape_to (&k, s, max, indent, flags);
}

void
present_escape (const char *s, char *buf, size_t size, unsigned flags)
{
  struct sink k = { .buf = buf, .size = size };

  if (size == 0)
    return;
  buf[0] = '\0';
  if (s)
    escape_to (&k, s, size, NULL, flags);
}

/* The JSON text of string S, hostile code points as \uXXXX (\uFFFD for
 * invalid bytes; a tag character, past U+FFFF, as its surrogate pair).  */
static void
json_string (struct sink *k, const char *s)
{
  const unsigned char *p = (const unsigned char *) s;
  size_t n = strlen (s), i = 0;
  char u[16];

  sink_put (k, "\"", 1);
  while (i < n)
    {
      uint32_t c;
      size_t len = utf8_decode (p + i, n - i, &c);
      if (len == 0)
        {
          sink_put (k, "\\ufffd", 6);
          i++;
          continue;
        }
      if (c == '"' || c == '\\')
        {
          sink_put (k, "\\", 1);
          sink_put (k, (const char *) p + i, 1);
        }
      else if (c == '\n')
        sink_put (k, "\\n", 2);
      else if (c == '\t')
        sink_put (k, "\\t", 2);
      else if (hostile (c) && c > 0xffff)
        {
          uint32_t v = c - 0x10000;
          snprintf (u, sizeof u, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
          sink_put (k, u, strlen (u));
        }
      else if (hostile (c))
        {
          snprintf (u, sizeof u, "\\u%04x", c);
          sink_put (k, u, strlen (u));
        }
      else
        sink_put (k, (const char *) p + i, len);
      i += len;
    }
  sink_put (k, "\"", 1);
}

static int
cmp_key (const void *a, const void *b)
{
  const cJSON *x = *(const cJSON *const *) a, *y = *(const cJSON *const *) b;
  return strcmp (x->string ? x->string : "", y->string ? y->string : "");
}

static void
json_compact (struct sink *k, const cJSON *x)
{
  char num[64];
  const cJSON *c;

  if (cJSON_IsString (x))
    json_string (k, x->valuestring);
  else if (cJSON_IsNumber (x))
    {
      present_number (x->valuedouble, num, sizeof num);
      sink_put (k, num, strlen (num));
    }
  else if (cJSON_IsBool (x))
    sink_put (k, cJSON_IsTrue (x) ? "true" : "false", cJSON_IsTrue (x) ? 4 : 5);
  else if (cJSON_IsArray (x))
    {
      sink_put (k, "[", 1);
      for (c = x->child; c && !k->full; c = c->next)
        {
          json_compact (k, c);
          if (c->next)
            sink_put (k, ",", 1);
        }
      sink_put (k, "]", 1);
    }
  else if (cJSON_IsObject (x))
    {
      /* Keys sorted: the VM's tables have no order, a person wants the
       * same line for the same value.  */
      int n = cJSON_GetArraySize (x), i = 0;
      const cJSON **items = calloc (n > 0 ? (size_t) n : 1, sizeof *items);
      if (items == NULL)
        {
          k->full = true;
          return;
        }
      for (c = x->child; c && i < n; c = c->next)
        items[i++] = c;
      qsort (items, (size_t) i, sizeof *items, cmp_key);
      sink_put (k, "{", 1);
      for (int j = 0; j < i && !k->full; j++)
        {
          json_string (k, items[j]->string ? items[j]->string : "");
          sink_put (k, ":", 1);
          json_compact (k, items[j]);
          if (j + 1 < i)
            sink_put (k, ",", 1);
        }
      sink_put (k, "}", 1);
      free (items);
    }
  else
    sink_put (k, "null", 4);
}

char *
present_json_compact (const cJSON *x)
{
  struct sink k = { 0 };
  size_t size = 4096;

  /* Grow until it fits (the text is bounded by the event's size).  */
  for (;;)
    {
      k.buf = malloc (size);
      if (k.buf == NULL)
        return NULL;
      k.buf[0] = '\0';
      k.size = size, k.len = 0, k.full = false;
      json_compact (&k, x);
      if (!k.full)
        return k.buf;
      free (k.buf);
      if (size > (64u << 20))
        return NULL;
      size *= 4;
    }
}

/* Exposed for present_result.c's pretty printer.  */
void present_json_string (FILE *f, const char *s);

void
present_json_string (FILE *f, const char *s)
{
  struct sink k = { .f = f };
  json_string (&k, s);
}

void
untrusted_clean (char *t)
{
  unsigned char *p = (unsigned char *) t, *w = p;
  size_t n = t ? strlen (t) : 0, i = 0;

  while (i < n)
    {
      uint32_t c;
      size_t len = utf8_decode (p + i, n - i, &c);
      if (len == 0 || (hostile (c) && c != '\n' && c != '\t'))
        {
          *w++ = '?';
          i += len ? len : 1;
          continue;
        }
      memmove (w, p + i, len);
      w += len, i += len;
    }
  if (t)
    *w = '\0';
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
