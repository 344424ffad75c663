/* Egress for native cages: the broker's proxy.
 *
 * A cage keeps no route out: its network namespace has only lo.  When the
 * config allows some endpoints (sandbox.network.allow, policy/egress.h),
 * the launcher asks the sandbox to place a listening socket at
 * 127.0.0.1:EGRESS_PORT inside the cage's namespace (the sandbox knows
 * nothing of HTTP: it only hands the socket out), gives the cage
 * HTTP_PROXY/HTTPS_PROXY/ALL_PROXY, and this proxy serves what arrives
 * there: HTTP CONNECT, plain http:// forward requests and SOCKS5 (the
 * first byte tells which).  Each target is checked against the rules,
 * resolved once on the host, each address checked, and the connection
 * made to a checked address.  Every connection, allowed or refused, is a
 * trace event (event_type "egress"); a refused one gets a clear answer in
 * its protocol (403 with the reason, or SOCKS5 reply 2).
 *
 * The proxy is a process of its own, forked by the launcher on first use
 * (a run that allows nothing never starts it), serving every cage of the
 * run; each connection is served by a child of it, so a slow or stuck
 * connection holds nothing else up and the broker's own loop never waits
 * on the network.  Events come back to the broker over a pipe.  */
#ifndef TR_BROKER_EGRESS_H
#define TR_BROKER_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct egress_rules;
struct trace;
struct cJSON;

#define EGRESS_PORT 3128
#define EGRESS_MAX_HEAD (16 << 10)

/* What a cage's environment gets when it may reach the proxy.  */
extern const char *const egress_env[];

struct egress;

int egress_start (const struct egress_rules *rules, struct egress **out, struct tr_error *err);
/* Serve the connections arriving on LISTEN_FD (a socket placed in a
 * cage), named LABEL in the events.  Takes LISTEN_FD (closes it here).  */
int egress_serve (struct egress *e, int listen_fd, const char *label, struct tr_error *err);
/* Readable when events are waiting (for a poll loop).  */
int egress_event_fd (const struct egress *e);
/* Write the waiting events to T.  */
void egress_drain (struct egress *e, struct trace *t);
/* Stop the proxy and its connections; write the last events; free.  */
void egress_stop (struct egress *e, struct trace *t);

/* ---- the parsers (egress_proto.c; fuzzed) ---- */
enum egress_kind
{
  EGRESS_HTTP_CONNECT,
  EGRESS_HTTP_FORWARD,
  EGRESS_SOCKS5,
};
struct egress_request
{
  enum egress_kind kind;
  char host[256]; /* normalized (policy/egress.h) */
  uint16_t port;
  size_t head_len; /* bytes of the request itself */
  char *forward;   /* FORWARD: the request head to send on (origin form), malloc'd */
  size_t forward_len;
};
/* 1 a complete request, 0 more bytes needed, -1 malformed (WHY).  Free
 * R->forward in every case.  */
int egress_parse_http (const char *buf, size_t len, struct egress_request *r, char *why,
                       size_t whysize);
/* SOCKS5: bytes used (> 0), 0 more needed, -1 malformed.  */
int egress_socks5_greeting (const uint8_t *buf, size_t len, bool *no_auth);
/* CODE: the SOCKS5 reply code for a refusal (1 general, 7 command, 8 address type).  */
int egress_socks5_request (const uint8_t *buf, size_t len, struct egress_request *r, uint8_t *code);

/* The connection's decision: checks, resolving once, connecting to a
 * checked address (egress.c; also the Http primitive's: http.c).
 * Returns a connected socket, or -1 with WHY and *REFUSED (a rule, not a
 * network failure); ADDR gets the address used.  */
int egress_connect (const struct egress_rules *rules, const char *host, uint16_t port, char *addr,
                    size_t addrsize, bool *refused, char *why, size_t whysize);
/* The same checks without connecting: the address to use (for libcurl's
 * CURLOPT_RESOLVE), or -1 with WHY.  */
int egress_resolve (const struct egress_rules *rules, const char *host, uint16_t port, char *addr,
                    size_t addrsize, bool *refused, char *why, size_t whysize);
/* An "egress" trace event.  */
struct cJSON *egress_event (const char *label, const char *protocol, const char *host,
                            uint16_t port, bool allowed, const char *addr, const char *why);

#endif
