/* The egress proxy's parsers (broker/egress.h): an HTTP proxy request
 * (CONNECT host:port, or an absolute-form http:// request) and SOCKS5's
 * greeting and CONNECT request.  The bytes come from a caged program:
 * every length is bounded, every field checked, nothing is trusted
 * (fuzzed: tests/fuzz/fuzz_egress.c).  */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/egress.h"
#include "policy/egress.h"

#define MAX_HEADERS 100

static int
bad (char *why, size_t n, const char *msg)
{
  snprintf (why, n, "%s", msg);
  return -1;
}

/* "host:port" or "[v6]:port" (DEFAULT_PORT when no port and it is > 0).  */
static int
parse_authority (const char *s, size_t len, uint16_t default_port, struct egress_request *r)
{
  char buf[300], *host = buf, *port = NULL, *end;
  unsigned long p;

  if (len == 0 || len >= sizeof buf)
    return -1;
  memcpy (buf, s, len);
  buf[len] = '\0';
  if (buf[0] == '[')
    {
      char *close = strchr (buf, ']');
      if (close == NULL || (close[1] != '\0' && close[1] != ':'))
        return -1;
      *close = '\0';
      host = buf + 1;
      port = close[1] == ':' ? close + 2 : NULL;
      if (strchr (host, ':') == NULL)
        return -1; /* brackets are for IPv6 */
    }
  else
    {
      char *colon = strchr (buf, ':');
      if (colon)
        {
          if (strchr (colon + 1, ':'))
            return -1;
          *colon = '\0';
          port = colon + 1;
        }
    }
  if (port)
    {
      if (!isdigit ((unsigned char) port[0]))
        return -1;
      p = strtoul (port, &end, 10);
      if (*end || p < 1 || p > 65535)
        return -1;
      r->port = (uint16_t) p;
    }
  else if (default_port)
    r->port = default_port;
  else
    return -1;
  if (!egress_host_normalize (host, r->host, sizeof r->host))
    return -1;
  return 0;
}

/* Headers for this hop only: the connection's own, and every Proxy-*
 * header (they are meant for the proxy, credentials included).  */
static bool
hop_by_hop (const char *name, size_t n)
{
  static const char *const names[] = { "connection", "keep-alive", NULL };
  if (n >= 6 && strncasecmp (name, "proxy-", 6) == 0)
    return true;
  for (const char *const *h = names; *h; h++)
    if (strlen (*h) == n && strncasecmp (*h, name, n) == 0)
      return true;
  return false;
}

static int
add (char **out, size_t *len, size_t *cap, const char *s, size_t n)
{
  if (*len + n + 1 > *cap)
    {
      size_t c = (*len + n + 1) * 2;
      char *nb = realloc (*out, c);
      if (nb == NULL)
        return -1;
      *out = nb;
      *cap = c;
    }
  memcpy (*out + *len, s, n);
  *len += n;
  (*out)[*len] = '\0';
  return 0;
}

int
egress_parse_http (const char *buf, size_t len, struct egress_request *r, char *why, size_t whysize)
{
  const char *end = memmem (buf, len, "\r\n\r\n", 4), *line, *sp1, *sp2, *eol, *p;
  size_t head, cap = 0;
  int nheaders = 0;
  bool have_host = false;

  memset (r, 0, sizeof *r);
  if (end == NULL)
    return len >= EGRESS_MAX_HEAD ? bad (why, whysize, "request head larger than 16 KiB") : 0;
  head = (size_t) (end - buf) + 4;
  if (memchr (buf, '\0', head))
    return bad (why, whysize, "a NUL byte in the request head");
  r->head_len = head;
  eol = memmem (buf, head, "\r\n", 2);
  sp1 = memchr (buf, ' ', (size_t) (eol - buf));
  sp2 = sp1 ? memchr (sp1 + 1, ' ', (size_t) (eol - sp1 - 1)) : NULL;
  if (sp1 == NULL || sp2 == NULL || sp1 == buf || sp2 == sp1 + 1
      || ((size_t) (eol - sp2 - 1) != 8
          || (strncmp (sp2 + 1, "HTTP/1.1", 8) != 0 && strncmp (sp2 + 1, "HTTP/1.0", 8) != 0)))
    return bad (why, whysize, "not an HTTP/1.x request line");
  for (p = buf; p < sp1; p++)
    if (!isupper ((unsigned char) *p))
      return bad (why, whysize, "not an HTTP method");
  if ((size_t) (sp1 - buf) == 7 && strncmp (buf, "CONNECT", 7) == 0)
    {
      r->kind = EGRESS_HTTP_CONNECT;
      if (parse_authority (sp1 + 1, (size_t) (sp2 - sp1 - 1), 0, r) < 0)
        return bad (why, whysize, "CONNECT needs HOST:PORT");
      return 1;
    }
  /* A forward request: METHOD http://host[:port]/path HTTP/1.x  */
  {
    const char *uri = sp1 + 1, *auth, *path;
    size_t ulen = (size_t) (sp2 - uri);
    if (ulen < 8 || strncasecmp (uri, "http://", 7) != 0)
      return bad (why, whysize,
                  ulen >= 8 && strncasecmp (uri, "https://", 8) == 0
                      ? "https:// goes through CONNECT, not a forward request"
                      : "a proxy request needs an absolute http:// URL (or CONNECT)");
    auth = uri + 7;
    path = memchr (auth, '/', (size_t) (sp2 - auth));
    if (path == NULL)
      path = sp2;
    if (memchr (auth, '@', (size_t) (path - auth)))
      return bad (why, whysize, "credentials in the URL are not passed on");
    if (parse_authority (auth, (size_t) (path - auth), 80, r) < 0)
      return bad (why, whysize, "the URL has no valid host");
    r->kind = EGRESS_HTTP_FORWARD;
    /* The request line in origin form.  */
    if (add (&r->forward, &r->forward_len, &cap, buf, (size_t) (sp1 - buf) + 1) < 0
        || add (&r->forward, &r->forward_len, &cap, path == sp2 ? "/" : path,
                path == sp2 ? 1 : (size_t) (sp2 - path))
               < 0
        || add (&r->forward, &r->forward_len, &cap, sp2, (size_t) (eol - sp2) + 2) < 0)
      return bad (why, whysize, "out of memory");
  }
  /* Headers, without the hop-by-hop ones; the connection closes after one
   * request.  */
  for (line = eol + 2; line < end + 2; line = eol + 2)
    {
      const char *colon;
      eol = memmem (line, (size_t) (end + 2 - line), "\r\n", 2);
      if (eol == NULL || eol == line)
        break;
      colon = memchr (line, ':', (size_t) (eol - line));
      if (colon == NULL || colon == line || ++nheaders > MAX_HEADERS)
        return bad (why, whysize, "a malformed header line");
      for (p = line; p < colon; p++)
        if (!(isalnum ((unsigned char) *p) || strchr ("!#$%&'*+-.^_`|~", *p)))
          return bad (why, whysize, "a malformed header name");
      for (p = colon; p < eol; p++)
        if (*p == '\r' || *p == '\n')
          return bad (why, whysize, "a bare CR or LF in a header");
      if (hop_by_hop (line, (size_t) (colon - line)))
        continue;
      if ((size_t) (colon - line) == 4 && strncasecmp (line, "host", 4) == 0)
        have_host = true;
      if (add (&r->forward, &r->forward_len, &cap, line, (size_t) (eol - line) + 2) < 0)
        return bad (why, whysize, "out of memory");
    }
  if (!have_host)
    {
      char h[300];
      int n = strchr (r->host, ':') ? snprintf (h, sizeof h, "Host: [%s]:%u\r\n", r->host, r->port)
                                    : snprintf (h, sizeof h, "Host: %s:%u\r\n", r->host, r->port);
      if (add (&r->forward, &r->forward_len, &cap, h, (size_t) n) < 0)
        return bad (why, whysize, "out of memory");
    }
  if (add (&r->forward, &r->forward_len, &cap, "Connection: close\r\n\r\n", 21) < 0)
    return bad (why, whysize, "out of memory");
  return 1;
}

int
egress_socks5_greeting (const uint8_t *buf, size_t len, bool *no_auth)
{
  size_t n;

  *no_auth = false;
  if (len < 2)
    return 0;
  if (buf[0] != 5 || buf[1] == 0)
    return -1;
  n = 2 + (size_t) buf[1];
  if (len < n)
    return 0;
  for (size_t i = 2; i < n; i++)
    if (buf[i] == 0)
      *no_auth = true;
  return (int) n;
}

int
egress_socks5_request (const uint8_t *buf, size_t len, struct egress_request *r, uint8_t *code)
{
  size_t n;
  char host[300];

  memset (r, 0, sizeof *r);
  *code = 1; /* general failure */
  if (len < 5)
    return 0;
  if (buf[0] != 5 || buf[2] != 0)
    return -1;
  switch (buf[3])
    {
    case 1: /* IPv4 */
      n = 4 + 4 + 2;
      if (len < n)
        return 0;
      inet_ntop (AF_INET, buf + 4, host, sizeof host);
      break;
    case 3: /* a name */
      n = 4 + 1 + (size_t) buf[4] + 2;
      if (len < n)
        return 0;
      if (buf[4] == 0 || memchr (buf + 5, '\0', buf[4]))
        return -1;
      memcpy (host, buf + 5, buf[4]);
      host[buf[4]] = '\0';
      break;
    case 4: /* IPv6 */
      n = 4 + 16 + 2;
      if (len < n)
        return 0;
      inet_ntop (AF_INET6, buf + 4, host, sizeof host);
      break;
    default:
      *code = 8; /* address type not supported */
      return -1;
    }
  if (buf[1] != 1)
    {
      *code = 7; /* only CONNECT */
      return -1;
    }
  r->kind = EGRESS_SOCKS5;
  r->port = (uint16_t) (buf[n - 2] << 8 | buf[n - 1]);
  r->head_len = n;
  if (r->port == 0 || !egress_host_normalize (host, r->host, sizeof r->host))
    return -1;
  return (int) n;
}
