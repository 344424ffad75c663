/* http.request: the Http primitive for .tac code, made by the broker
 * under the same egress rules as the caged programs' proxy
 * (sandbox.network.allow / deny, policy/egress.h).
 *
 * The URL's host is checked, resolved once on the host, each address
 * checked, and libcurl is told to use that address (CURLOPT_RESOLVE), so a
 * DNS answer that changes between the check and the connection cannot
 * redirect it.  No proxy from the environment, no redirects followed (a
 * 3xx comes back as it is: its Location is another request to check),
 * http and https only, bounded in time and size.  Every request, allowed
 * or refused, is an "egress" trace event.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/curl_lazy.h"
#include "broker/egress.h"
#include "broker/internal.h"
#include "broker/trace.h"
#include "policy/egress.h"

#define MAX_BODY (8 << 20)
#define MAX_HEADERS_BYTES (64 << 10)
#define MAX_REQUEST_HEADERS 64

struct http_rx
{
  struct broker_state *b;
  char *body;
  size_t len, cap;
  cJSON *headers;
  size_t header_bytes;
  bool too_large, aborted;
};

static size_t
on_body (char *ptr, size_t size, size_t nmemb, void *ud)
{
  struct http_rx *rx = ud;
  size_t n = size * nmemb;

  if (rx->len + n > MAX_BODY)
    {
      rx->too_large = true;
      return 0;
    }
  if (rx->len + n + 1 > rx->cap)
    {
      size_t cap = (rx->len + n + 1) * 2;
      char *nb = realloc (rx->body, cap);
      if (nb == NULL)
        return 0;
      rx->body = nb;
      rx->cap = cap;
    }
  memcpy (rx->body + rx->len, ptr, n);
  rx->len += n;
  rx->body[rx->len] = '\0';
  return n;
}

static size_t
on_header (char *ptr, size_t size, size_t nmemb, void *ud)
{
  struct http_rx *rx = ud;
  size_t n = size * nmemb;
  char *line, *colon, *v, *end;

  rx->header_bytes += n;
  if (rx->header_bytes > MAX_HEADERS_BYTES)
    return 0;
  if (n >= 5 && strncmp (ptr, "HTTP/", 5) == 0)
    {
      /* A new response (after a 100 Continue): its headers only.  */
      cJSON_Delete (rx->headers);
      rx->headers = cJSON_CreateObject ();
      return n;
    }
  line = strndup (ptr, n);
  if (line == NULL)
    return 0;
  colon = strchr (line, ':');
  if (colon && colon != line)
    {
      *colon = '\0';
      for (char *p = line; *p; p++)
        *p = (char) tolower ((unsigned char) *p);
      v = colon + 1;
      while (*v == ' ' || *v == '\t')
        v++;
      end = v + strlen (v);
      while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        *--end = '\0';
      cJSON_DeleteItemFromObjectCaseSensitive (rx->headers, line);
      cJSON_AddStringToObject (rx->headers, line, v);
    }
  free (line);
  return n;
}

static int
on_progress (void *ud, curl_off_t a, curl_off_t b2, curl_off_t c, curl_off_t d)
{
  struct http_rx *rx = ud;
  sigset_t pending;

  (void) a, (void) b2, (void) c, (void) d;
  sigpending (&pending);
  if (rx->b->peer->ms_left (rx->b->peer->ctx) == 0 || sigismember (&pending, SIGINT)
      || sigismember (&pending, SIGTERM))
    {
      rx->aborted = true;
      return 1;
    }
  return 0;
}

/* scheme://host[:port][/...] -> host (normalized), port.  */
static int
parse_url (const char *url, char *host, size_t hsize, uint16_t *port, bool *https)
{
  const char *p, *end, *colon;
  char buf[300];
  size_t n;

  if (strncasecmp (url, "http://", 7) == 0)
    *https = false, p = url + 7, *port = 80;
  else if (strncasecmp (url, "https://", 8) == 0)
    *https = true, p = url + 8, *port = 443;
  else
    return -1;
  end = p + strcspn (p, "/?#");
  if (memchr (p, '@', (size_t) (end - p)) || memchr (p, '\\', (size_t) (end - p)))
    return -1;
  n = (size_t) (end - p);
  if (n == 0 || n >= sizeof buf)
    return -1;
  memcpy (buf, p, n);
  buf[n] = '\0';
  if (buf[0] == '[')
    {
      char *close = strchr (buf, ']');
      if (close == NULL)
        return -1;
      *close = '\0';
      colon = close[1] == ':' ? close + 1 : NULL;
      if (close[1] && close[1] != ':')
        return -1;
      memmove (buf, buf + 1, strlen (buf + 1) + 1);
    }
  else
    {
      char *c = strchr (buf, ':');
      colon = c;
      if (c)
        *c = '\0';
    }
  if (colon)
    {
      char *e;
      unsigned long v = strtoul (colon + 1, &e, 10);
      if (!isdigit ((unsigned char) colon[1]) || *e || v < 1 || v > 65535)
        return -1;
      *port = (uint16_t) v;
    }
  return egress_host_normalize (buf, host, hsize) ? 0 : -1;
}

static void
event (struct broker_state *b, const char *method, const char *host, uint16_t port, bool ok,
       const char *addr, const char *why, long status)
{
  cJSON *ev = egress_event ("procedure", "http_primitive", host, port, ok, addr, why);
  cJSON_AddStringToObject (ev, "method", method);
  if (status > 0)
    cJSON_AddNumberToObject (ev, "status", (double) status);
  trace_event (b->o->trace, ev);
  cJSON_Delete (ev);
}

void
broker_http_request (struct broker_state *b, const cJSON *id, const cJSON *params)
{
  const cJSON *url = cJSON_GetObjectItemCaseSensitive (params, "url");
  const cJSON *method = cJSON_GetObjectItemCaseSensitive (params, "method");
  const cJSON *headers = cJSON_GetObjectItemCaseSensitive (params, "headers");
  const cJSON *body = cJSON_GetObjectItemCaseSensitive (params, "body");
  const cJSON *timeout = cJSON_GetObjectItemCaseSensitive (params, "timeout");
  const char *m = cJSON_IsString (method) ? method->valuestring : "GET";
  char host[256], addr[64], why[500], resolve[400];
  struct curl_slist *rs = NULL, *hs = NULL;
  struct http_rx rx = { .b = b };
  const struct curl_api *c;
  uint16_t port;
  bool https, refused;
  double secs = cJSON_IsNumber (timeout) && timeout->valuedouble > 0 ? timeout->valuedouble : 30;
  long status = 0;
  CURLcode cc;
  CURL *curl;
  int nh = 0;
  cJSON *data;

  if (!cJSON_IsString (url) || strlen (url->valuestring) > 8192
      || strpbrk (url->valuestring, " \r\n\t") != NULL)
    return broker_violation (b, id, "http.request needs params.url, a URL without spaces");
  if (strlen (m) > 16 || strspn (m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen (m) || m[0] == '\0')
    return broker_violation (b, id,
                             "http.request params.method must be an HTTP method (GET, POST...)");
  if (headers && !cJSON_IsObject (headers))
    return broker_violation (b, id, "http.request params.headers must be an object");
  if (body && !cJSON_IsString (body) && !cJSON_IsNull (body))
    return broker_violation (b, id, "http.request params.body must be a string");
  if (parse_url (url->valuestring, host, sizeof host, &port, &https) < 0)
    return (void) broker_reply_error (
        b, id, "BadRequest",
        "Http: '%.200s' is not an http:// or https:// URL with a host "
        "(no user:password@)",
        url->valuestring);
  if (!egress_enabled (b->o->egress))
    {
      snprintf (why, sizeof why, "no endpoint is allowed (sandbox.network.allow is empty)");
      event (b, m, host, port, false, NULL, why, 0);
      return (void) broker_reply_error (b, id, "EgressRefused", "Http: %s:%u: %s", host, port, why);
    }
  if (egress_resolve (b->o->egress, host, port, addr, sizeof addr, &refused, why, sizeof why) < 0)
    {
      event (b, m, host, port, false, NULL, why, 0);
      return (void) broker_reply_error (b, id, refused ? "EgressRefused" : "ConnectionError",
                                        "Http: %s", why);
    }
  c = curl_lazy_load (why, sizeof why);
  if (c == NULL)
    return (void) broker_reply_error (b, id, "ConnectionError", "Http needs libcurl: %s", why);
  curl = c->easy_init ();
  if (curl == NULL)
    return (void) broker_reply_error (b, id, "ConnectionError", "Http: out of memory");
  /* The checked address, and no other: libcurl does not resolve HOST.  */
  snprintf (resolve, sizeof resolve, strchr (addr, ':') ? "%s:%u:[%s]" : "%s:%u:%s", host, port,
            addr);
  rs = c->slist_append (NULL, resolve);
  if (cJSON_IsObject (headers))
    for (const cJSON *h = headers->child; h && nh < MAX_REQUEST_HEADERS; h = h->next, nh++)
      {
        char *line;
        if (!cJSON_IsString (h) || h->string[0] == '\0'
            || strspn (h->string,
                       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
                   != strlen (h->string)
            || strpbrk (h->valuestring, "\r\n") || strcasecmp (h->string, "host") == 0)
          {
            c->slist_free_all (rs);
            c->slist_free_all (hs);
            c->easy_cleanup (curl);
            return (void) broker_reply_error (b, id, "BadRequest",
                                              "Http: header '%.60s' is not a NAME: value (and Host "
                                              "is the URL's)",
                                              h->string);
          }
        if (asprintf (&line, "%s: %s", h->string, h->valuestring) >= 0)
          {
            hs = c->slist_append (hs, line);
            free (line);
          }
      }
  rx.headers = cJSON_CreateObject ();
  c->easy_setopt (curl, CURLOPT_URL, url->valuestring);
  c->easy_setopt (curl, CURLOPT_RESOLVE, rs);
  c->easy_setopt (curl, CURLOPT_PROXY, "");
  c->easy_setopt (curl, CURLOPT_NOPROXY, "*");
  c->easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
  c->easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 0L);
  c->easy_setopt (curl, CURLOPT_CUSTOMREQUEST, m);
  if (strcmp (m, "HEAD") == 0)
    c->easy_setopt (curl, CURLOPT_NOBODY, 1L);
  if (cJSON_IsString (body))
    c->easy_setopt (curl, CURLOPT_POSTFIELDS, body->valuestring);
  if (hs)
    c->easy_setopt (curl, CURLOPT_HTTPHEADER, hs);
  c->easy_setopt (curl, CURLOPT_WRITEFUNCTION, on_body);
  c->easy_setopt (curl, CURLOPT_WRITEDATA, &rx);
  c->easy_setopt (curl, CURLOPT_HEADERFUNCTION, on_header);
  c->easy_setopt (curl, CURLOPT_HEADERDATA, &rx);
  c->easy_setopt (curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  c->easy_setopt (curl, CURLOPT_XFERINFODATA, &rx);
  c->easy_setopt (curl, CURLOPT_NOPROGRESS, 0L);
  c->easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  c->easy_setopt (curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  c->easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long) (secs > 600 ? 600000 : secs * 1000));
  cc = c->easy_perform (curl);
  if (cc == CURLE_OK)
    c->easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
  c->slist_free_all (rs);
  c->slist_free_all (hs);
  c->easy_cleanup (curl);
  event (b, m, host, port, true, addr, cc == CURLE_OK ? NULL : c->easy_strerror (cc), status);
  if (rx.aborted)
    broker_reply_error (b, id, "Cancelled", "Http: stopped (deadline or signal)");
  else if (rx.too_large)
    broker_reply_error (b, id, "ResponseTooLarge", "Http: %s sent more than 8 MiB", host);
  else if (cc != CURLE_OK)
    broker_reply_error (b, id, cc == CURLE_OPERATION_TIMEDOUT ? "Timeout" : "ConnectionError",
                        "Http: %s %s: %s", m, url->valuestring, c->easy_strerror (cc));
  else
    {
      data = cJSON_CreateObject ();
      cJSON_AddNumberToObject (data, "status", (double) status);
      cJSON_AddItemToObject (data, "headers", rx.headers);
      rx.headers = NULL;
      cJSON_AddStringToObject (data, "body", rx.body ? rx.body : "");
      broker_reply (b, id, "done", data);
    }
  cJSON_Delete (rx.headers);
  free (rx.body);
}
