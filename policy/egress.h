/* Egress rules: which endpoints a caged program (through the broker's
 * proxy) or a procedure's Http calls may reach.  Off by default: no rule,
 * no egress.  From the config's sandbox.network.allow / deny lists:
 *
 *   api.github.com:443     a name and a port
 *   *.pypi.org             any name under pypi.org (not pypi.org itself),
 *                          on the web ports (80 and 443) when no port is given
 *   *:443                  any name on port 443 (not an address literal)
 *   203.0.113.7:8080       an IPv4 address;  10.0.0.0/8:5432  a range
 *   [2001:db8::1]:443      an IPv6 address (brackets when a port follows);
 *   [fd00::/8]:*           a range, any port; ports may be ranges (8000-8100)
 *
 * The deny list is checked first, against the name asked for and every
 * address it resolves to.  Names are resolved once, on the host, and the
 * connection goes to an address that was checked (never resolved again):
 * an allowed name whose DNS answer changes to a disallowed address is
 * refused.  Internal addresses (loopback, private, link-local such as
 * 169.254.169.254, carrier-grade NAT, ULA, multicast...) are refused
 * unless an allow entry names that address or its range: an allowed name
 * that resolves to one is refused.  */
#ifndef TR_POLICY_EGRESS_H
#define TR_POLICY_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum egress_rule_kind
{
  EGRESS_NAME,   /* exactly this name */
  EGRESS_SUFFIX, /* any name ending in .suffix */
  EGRESS_ANY,    /* any name */
  EGRESS_ADDR,   /* an address or range */
};

struct egress_rule
{
  enum egress_rule_kind kind;
  char name[256];   /* lowercase; SUFFIX: with its leading dot */
  int family;       /* EGRESS_ADDR: AF_INET or AF_INET6 */
  uint8_t addr[16]; /* network order */
  int prefix;       /* bits */
  bool web_ports;   /* no port given: 80 and 443 */
  uint16_t port_lo, port_hi;
  char text[300]; /* as written, for messages */
};

struct egress_rules
{
  struct egress_rule *allow, *deny;
  size_t n_allow, n_deny;
};

/* Parse one entry; -1 with WHY when it is not one of the forms above.  */
int egress_rule_parse (const char *text, struct egress_rule *r, char *why, size_t whysize);
int egress_rules_add (struct egress_rules *rs, bool deny, const char *text, char *why,
                      size_t whysize);
void egress_rules_free (struct egress_rules *rs);
bool egress_enabled (const struct egress_rules *rs);

/* HOST (a name, or an address literal without brackets) normalized into
 * OUT (lowercase, no trailing dot); false when it is neither a valid name
 * nor an address.  */
bool egress_host_normalize (const char *host, char *out, size_t size);

/* The target as asked (before resolving): 0 allowed, -1 refused (WHY).  */
int egress_check_target (const struct egress_rules *rs, const char *host, uint16_t port, char *why,
                         size_t whysize);
/* One address HOST resolved to (or the literal itself): 0 allowed, -1
 * refused (WHY).  */
int egress_check_address (const struct egress_rules *rs, const struct sockaddr *sa, uint16_t port,
                          char *why, size_t whysize);
bool egress_address_internal (const struct sockaddr *sa);

#endif
