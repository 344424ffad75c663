/* Egress rules (policy/egress.h): parsing the allow/deny entries and the
 * two checks, of the target as asked and of each address it resolves to.
 * Pure functions, fuzzed with the proxy's parsers (tests/fuzz/fuzz_egress.c).  */
#define _GNU_SOURCE
#include "policy/egress.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
parse_ports (const char *s, struct egress_rule *r)
{
  char *end;
  unsigned long lo, hi;

  if (strcmp (s, "*") == 0)
    {
      r->port_lo = 1, r->port_hi = 65535;
      return true;
    }
  lo = strtoul (s, &end, 10);
  hi = lo;
  if (end == s || !isdigit ((unsigned char) *s))
    return false;
  if (*end == '-')
    {
      const char *h = end + 1;
      if (!isdigit ((unsigned char) *h))
        return false;
      hi = strtoul (h, &end, 10);
    }
  if (*end || lo < 1 || hi > 65535 || lo > hi)
    return false;
  r->port_lo = (uint16_t) lo, r->port_hi = (uint16_t) hi;
  return true;
}

/* ADDR[/PREFIX] into R; false when it is no address.  */
static bool
parse_addr (char *s, struct egress_rule *r)
{
  char *slash = strchr (s, '/');
  int max;

  if (slash)
    *slash = '\0';
  if (inet_pton (AF_INET, s, r->addr) == 1)
    r->family = AF_INET, max = 32;
  else if (inet_pton (AF_INET6, s, r->addr) == 1)
    r->family = AF_INET6, max = 128;
  else
    return false;
  r->prefix = max;
  if (slash)
    {
      char *end;
      long p = strtol (slash + 1, &end, 10);
      if (end == slash + 1 || *end || p < 0 || p > max)
        return false;
      r->prefix = (int) p;
    }
  r->kind = EGRESS_ADDR;
  return true;
}

bool
egress_host_normalize (const char *host, char *out, size_t size)
{
  size_t n = strlen (host), label = 0;
  unsigned char a[16];

  if (n == 0 || n >= size || n > 253)
    return false;
  for (size_t i = 0; i <= n; i++)
    out[i] = (char) tolower ((unsigned char) host[i]);
  if (inet_pton (AF_INET, out, a) == 1 || inet_pton (AF_INET6, out, a) == 1)
    return true;
  if (out[n - 1] == '.')
    out[--n] = '\0';
  if (n == 0)
    return false;
  /* Letters, digits, '-' and '_' in labels of 1 to 63, no empty label.  */
  for (size_t i = 0; i <= n; i++)
    {
      char c = out[i];
      if (c == '.' || c == '\0')
        {
          if (label == 0 || label > 63 || out[i - 1] == '-')
            return false;
          label = 0;
        }
      else if (isalnum ((unsigned char) c) || c == '_' || (c == '-' && label > 0))
        label++;
      else
        return false;
    }
  return true;
}

int
egress_rule_parse (const char *text, struct egress_rule *r, char *why, size_t whysize)
{
  char buf[300], *host = buf, *ports = NULL;
  size_t colons = 0;

  memset (r, 0, sizeof *r);
  if (strlen (text) >= sizeof buf || text[0] == '\0')
    {
      snprintf (why, whysize, "'%.60s' is empty or too long", text);
      return -1;
    }
  snprintf (r->text, sizeof r->text, "%s", text);
  snprintf (buf, sizeof buf, "%s", text);
  for (const char *p = buf; *p; p++)
    colons += *p == ':';
  if (buf[0] == '[')
    {
      char *close = strchr (buf, ']');
      if (close == NULL || (close[1] && close[1] != ':'))
        goto bad;
      *close = '\0';
      host = buf + 1;
      ports = close[1] ? close + 2 : NULL;
      if (!parse_addr (host, r) || r->family != AF_INET6)
        goto bad;
    }
  else if (colons > 1)
    {
      /* An IPv6 address without brackets: no port.  */
      if (!parse_addr (host, r) || r->family != AF_INET6)
        goto bad;
    }
  else
    {
      char *colon = strchr (buf, ':');
      if (colon)
        *colon = '\0', ports = colon + 1;
      if (strchr (host, '/') || inet_pton (AF_INET, host, r->addr) == 1)
        {
          if (!parse_addr (host, r) || r->family != AF_INET)
            goto bad;
        }
      else if (strcmp (host, "*") == 0)
        r->kind = EGRESS_ANY;
      else if (strncmp (host, "*.", 2) == 0)
        {
          r->kind = EGRESS_SUFFIX;
          r->name[0] = '.';
          if (!egress_host_normalize (host + 2, r->name + 1, sizeof r->name - 1)
              || inet_pton (AF_INET, r->name + 1, r->addr) == 1)
            goto bad;
        }
      else
        {
          r->kind = EGRESS_NAME;
          if (!egress_host_normalize (host, r->name, sizeof r->name))
            goto bad;
        }
    }
  if (ports == NULL)
    r->web_ports = true;
  else if (!parse_ports (ports, r))
    {
      snprintf (why, whysize, "'%s': the port must be a number, a range (8000-8100) or *", text);
      return -1;
    }
  return 0;
bad:
  snprintf (why, whysize,
            "'%s' is not HOST[:PORT] (a name, *.domain, *, an IPv4 address or range, or an IPv6 "
            "address or range in brackets when a port follows)",
            text);
  return -1;
}

int
egress_rules_add (struct egress_rules *rs, bool deny, const char *text, char *why, size_t whysize)
{
  struct egress_rule r, **list = deny ? &rs->deny : &rs->allow, *n;
  size_t *count = deny ? &rs->n_deny : &rs->n_allow;

  if (egress_rule_parse (text, &r, why, whysize) < 0)
    return -1;
  n = realloc (*list, (*count + 1) * sizeof *n);
  if (n == NULL)
    {
      snprintf (why, whysize, "out of memory");
      return -1;
    }
  /* A deny entry without a port refuses every port of it.  */
  if (deny && r.web_ports)
    r.web_ports = false, r.port_lo = 1, r.port_hi = 65535;
  n[(*count)++] = r;
  *list = n;
  return 0;
}

void
egress_rules_free (struct egress_rules *rs)
{
  free (rs->allow);
  free (rs->deny);
  memset (rs, 0, sizeof *rs);
}

bool
egress_enabled (const struct egress_rules *rs)
{
  return rs && rs->n_allow > 0;
}

static bool
port_ok (const struct egress_rule *r, uint16_t port)
{
  if (r->web_ports)
    return port == 80 || port == 443;
  return port >= r->port_lo && port <= r->port_hi;
}

/* FAMILY/BYTES in R's range.  */
static bool
addr_in (const struct egress_rule *r, int family, const uint8_t *a)
{
  int bits = r->prefix;

  if (r->kind != EGRESS_ADDR || r->family != family)
    return false;
  for (int i = 0; bits > 0; i++, bits -= 8)
    {
      uint8_t mask = bits >= 8 ? 0xff : (uint8_t) (0xff << (8 - bits));
      if ((a[i] & mask) != (r->addr[i] & mask))
        return false;
    }
  return true;
}

static bool
name_matches (const struct egress_rule *r, const char *host)
{
  size_t n = strlen (host), s;

  switch (r->kind)
    {
    case EGRESS_NAME:
      return strcmp (r->name, host) == 0;
    case EGRESS_SUFFIX:
      s = strlen (r->name);
      return n > s && strcmp (host + n - s, r->name) == 0;
    case EGRESS_ANY:
      return true;
    default:
      return false;
    }
}

/* 16 bytes of an IPv6 address into FAMILY/A: an IPv4-mapped one
 * (::ffff:a.b.c.d) as the IPv4 address.  */
static void
v6_bytes (const uint8_t *b, int *family, uint8_t *a)
{
  static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  uint8_t copy[16];

  memcpy (copy, b, 16);
  if (memcmp (copy, mapped, 12) == 0)
    {
      *family = AF_INET;
      memcpy (a, copy + 12, 4);
    }
  else
    {
      *family = AF_INET6;
      memcpy (a, copy, 16);
    }
}

/* An address as family + bytes.  The fields are copied out, not read
 * through a cast pointer: a sockaddr_in6 read as a struct sockaddr is an
 * aliasing violation the optimizer is free to miscompile.  */
static bool
addr_bytes (const struct sockaddr *sa, int *family, uint8_t *a)
{
  sa_family_t f;
  struct sockaddr_in s4;
  struct sockaddr_in6 s6;

  memcpy (&f, (const char *) sa + offsetof (struct sockaddr, sa_family), sizeof f);
  if (f == AF_INET)
    {
      memcpy (&s4, sa, sizeof s4);
      *family = AF_INET;
      memcpy (a, &s4.sin_addr, 4);
      return true;
    }
  if (f == AF_INET6)
    {
      memcpy (&s6, sa, sizeof s6);
      v6_bytes (s6.sin6_addr.s6_addr, family, a);
      return true;
    }
  return false;
}

static bool
literal (const char *host, int *family, uint8_t *a)
{
  uint8_t b[16];

  if (inet_pton (AF_INET, host, a) == 1)
    {
      *family = AF_INET;
      return true;
    }
  if (inet_pton (AF_INET6, host, b) == 1)
    {
      v6_bytes (b, family, a);
      return true;
    }
  return false;
}

int
egress_check_target (const struct egress_rules *rs, const char *host, uint16_t port, char *why,
                     size_t whysize)
{
  uint8_t a[16];
  int family;
  bool lit = literal (host, &family, a);

  if (port == 0)
    {
      snprintf (why, whysize, "port 0");
      return -1;
    }
  for (size_t i = 0; rs && i < rs->n_deny; i++)
    if (port_ok (&rs->deny[i], port)
        && (lit ? addr_in (&rs->deny[i], family, a) : name_matches (&rs->deny[i], host)))
      {
        snprintf (why, whysize, "%s:%u matches sandbox.network.deny entry '%s'", host, port,
                  rs->deny[i].text);
        return -1;
      }
  for (size_t i = 0; rs && i < rs->n_allow; i++)
    if (port_ok (&rs->allow[i], port)
        && (lit ? addr_in (&rs->allow[i], family, a) : name_matches (&rs->allow[i], host)))
      return 0;
  snprintf (why, whysize, "%s:%u is not in sandbox.network.allow", host, port);
  return -1;
}

/* Ranges no public service lives in.  */
bool
egress_address_internal (const struct sockaddr *sa)
{
  static const struct
  {
    int family;
    const char *net;
    int prefix;
  } ranges[] = {
    { AF_INET, "0.0.0.0", 8 },     { AF_INET, "10.0.0.0", 8 },      { AF_INET, "100.64.0.0", 10 },
    { AF_INET, "127.0.0.0", 8 },   { AF_INET, "169.254.0.0", 16 },  { AF_INET, "172.16.0.0", 12 },
    { AF_INET, "192.0.0.0", 24 },  { AF_INET, "192.0.2.0", 24 },    { AF_INET, "192.168.0.0", 16 },
    { AF_INET, "198.18.0.0", 15 }, { AF_INET, "198.51.100.0", 24 }, { AF_INET, "203.0.113.0", 24 },
    { AF_INET, "224.0.0.0", 3 },   { AF_INET6, "::", 127 },         { AF_INET6, "64:ff9b::", 96 },
    { AF_INET6, "100::", 64 },     { AF_INET6, "2001:db8::", 32 },  { AF_INET6, "fc00::", 7 },
    { AF_INET6, "fe80::", 10 },    { AF_INET6, "fec0::", 10 },      { AF_INET6, "ff00::", 8 },
  };
  uint8_t a[16];
  int family;

  if (!addr_bytes (sa, &family, a))
    return true;
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
    {
      struct egress_rule r
          = { .kind = EGRESS_ADDR, .family = ranges[i].family, .prefix = ranges[i].prefix };
      inet_pton (r.family, ranges[i].net, r.addr);
      if (addr_in (&r, family, a))
        return true;
    }
  return false;
}

int
egress_check_address (const struct egress_rules *rs, const struct sockaddr *sa, uint16_t port,
                      char *why, size_t whysize)
{
  char text[INET6_ADDRSTRLEN] = "?";
  uint8_t a[16];
  int family;

  if (!addr_bytes (sa, &family, a))
    {
      snprintf (why, whysize, "not an IP address");
      return -1;
    }
  inet_ntop (family, a, text, sizeof text);
  for (size_t i = 0; rs && i < rs->n_deny; i++)
    if (port_ok (&rs->deny[i], port) && addr_in (&rs->deny[i], family, a))
      {
        snprintf (why, whysize, "the address %s matches sandbox.network.deny entry '%s'", text,
                  rs->deny[i].text);
        return -1;
      }
  if (!egress_address_internal (sa))
    return 0;
  for (size_t i = 0; rs && i < rs->n_allow; i++)
    if (port_ok (&rs->allow[i], port) && addr_in (&rs->allow[i], family, a))
      return 0;
  snprintf (
      why, whysize,
      "the address %s is internal (loopback, private or link-local) and sandbox.network.allow "
      "does not list it",
      text);
  return -1;
}
