/* llm.chat: model calls made by the broker, never by the sandbox.
 *
 * The VM sends an OpenAI-style chat request.  The broker picks the
 * provider from the model string (llm.h), checks the policy, reads the
 * key (from the host environment or host config, only now, after the
 * sandbox was forked), and calls the provider's API with libcurl: the
 * provider's file builds the request and parses its answers, streamed
 * text goes back as `delta` events, and the call ends with `done {text,
 * tool_calls, usage, model, provider, finish_reason}`.  Bounded
 * everywhere: response size, time (connect, total, stall), retries
 * (429/5xx/529, with backoff and Retry-After).  The transfer also stops
 * when the run's deadline passes or a stop signal arrives.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <curl/curl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "broker/curl_lazy.h"
#include "broker/internal.h"
#include "broker/llm.h"
#include "broker/trace.h"

#define MAX_ATTEMPTS 3
#define MAX_RETRY_WAIT_MS 20000

/* ---- small helpers ---------------------------------------------------------------------- */

static int
append (char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
  if (*len + n + 1 > *cap)
    {
      size_t ncap = *cap ? *cap : 4096;
      char *nb;
      while (ncap < *len + n + 1)
        ncap *= 2;
      nb = realloc (*buf, ncap);
      if (nb == NULL)
        return -1;
      *buf = nb;
      *cap = ncap;
    }
  memcpy (*buf + *len, data, n);
  *len += n;
  (*buf)[*len] = '\0';
  return 0;
}

/* Overwrite every copy of KEY in TEXT with '*'.  */
static void
redact (char *text, const char *key)
{
  size_t n = key ? strlen (key) : 0;
  char *p;

  if (text == NULL || n < 4)
    return;
  while ((p = strstr (text, key)) != NULL)
    memset (p, '*', n);
}

static void
wipe_free (char *s)
{
  if (s)
    {
      explicit_bzero (s, strlen (s));
      free (s);
    }
}

int
llm_http_header (struct llm_http *h, const char *fmt, ...)
{
  va_list ap;
  char *s;
  int r;

  if (h->n_headers >= LLM_MAX_HEADERS)
    return -1;
  va_start (ap, fmt);
  r = vasprintf (&s, fmt, ap);
  va_end (ap);
  if (r < 0)
    return -1;
  h->headers[h->n_headers++] = s;
  return 0;
}

void
llm_http_free (struct llm_http *h)
{
  for (int i = 0; i < h->n_headers; i++)
    wipe_free (h->headers[i]);
  h->n_headers = 0;
  free (h->body);
  h->body = NULL;
}

/* ---- what the providers call ------------------------------------------------------------ */

/* Longest text repeated as accumulated_text in each streamed chunk event.  */
#define TRACE_ACCUMULATED_MAX (16 * 1024)

void
llm_text (struct llm_stream *s, const char *text, size_t len)
{
  cJSON *d, *ev;
  char *piece;

  if (len == 0)
    return;
  if (append (&s->text, &s->text_len, &s->text_cap, text, len) < 0)
    return;
  if (!s->streaming || s->b == NULL)
    return;
  piece = strndup (text, len);
  if (piece == NULL)
    return;
  d = cJSON_CreateObject ();
  cJSON_AddStringToObject (d, "text", piece);
  /* A VM that lags behind the stream gets the text in the final reply
   * only: the broker's queue stays bounded by that one message.  */
  if (s->b->outq_bytes > BROKER_DELTA_BACKLOG)
    cJSON_Delete (d);
  else
    broker_reply (s->b, s->id, "delta", d);
  ev = cJSON_CreateObject ();
  cJSON_AddStringToObject (ev, "event_type", "agent_stream_chunk");
  cJSON_AddStringToObject (ev, "agent_name", s->agent ? s->agent : "agent");
  cJSON_AddStringToObject (ev, "chunk_text", piece);
  /* As Tactus's chunks carry it, up to a bound: repeating a long text in
   * every chunk would make the trace grow with its square.  */
  if (s->text_len <= TRACE_ACCUMULATED_MAX)
    cJSON_AddStringToObject (ev, "accumulated_text", s->text);
  trace_event (s->b->o->trace, ev);
  cJSON_Delete (ev);
  free (piece);
}

struct llm_tool *
llm_tool (struct llm_stream *s, long key)
{
  struct llm_tool *t;

  for (int i = 0; i < s->n_tools; i++)
    if (s->tools[i].key == key)
      return &s->tools[i];
  if (s->n_tools >= LLM_MAX_TOOL_CALLS)
    {
      s->malformed = true;
      return NULL;
    }
  t = &s->tools[s->n_tools++];
  memset (t, 0, sizeof *t);
  t->key = key;
  return t;
}

static void
set_str (char **dst, const char *v)
{
  if (v == NULL || v[0] == '\0' || strlen (v) > 256)
    return;
  free (*dst);
  *dst = strdup (v);
}

void
llm_tool_set_id (struct llm_tool *t, const char *id)
{
  if (t)
    set_str (&t->id, id);
}

void
llm_tool_set_name (struct llm_tool *t, const char *name)
{
  if (t)
    set_str (&t->name, name);
}

void
llm_tool_args (struct llm_stream *s, struct llm_tool *t, const char *piece, size_t len)
{
  if (t == NULL || len == 0)
    return;
  if (t->args_whole)
    {
      /* A piece after a whole value: start again from the pieces.  */
      t->args_len = 0;
      t->args_whole = false;
    }
  if (append (&t->args, &t->args_len, &t->args_cap, piece, len) < 0)
    s->malformed = true;
}

void
llm_tool_args_json (struct llm_stream *s, struct llm_tool *t, const cJSON *value)
{
  char *text;

  if (t == NULL || value == NULL)
    return;
  text = cJSON_PrintUnformatted (value);
  if (text == NULL)
    {
      s->malformed = true;
      return;
    }
  t->args_len = 0;
  if (append (&t->args, &t->args_len, &t->args_cap, text, strlen (text)) < 0)
    s->malformed = true;
  t->args_whole = true;
  cJSON_free (text);
}

/* A token count the server reported, or -1: untrusted numbers are bounded
 * before they become integers (a count of 1e300 must not overflow a long,
 * nor a sum of many).  */
#define TOKENS_MAX (1L << 40)

static long
token_count (const cJSON *v)
{
  if (!cJSON_IsNumber (v) || !(v->valuedouble >= 0))
    return -1;
  return v->valuedouble >= (double) TOKENS_MAX ? TOKENS_MAX : (long) v->valuedouble;
}

void
llm_usage (struct llm_stream *s, const cJSON *prompt, const cJSON *completion, const cJSON *total)
{
  long v;

  if ((v = token_count (prompt)) >= 0)
    s->prompt_tokens = v;
  if ((v = token_count (completion)) >= 0)
    s->completion_tokens = v;
  if ((v = token_count (total)) >= 0)
    s->total_tokens = v;
}

void
llm_finish (struct llm_stream *s, const char *reason)
{
  if (reason && reason[0])
    snprintf (s->finish_reason, sizeof s->finish_reason, "%s", reason);
}

void
llm_stream_error (struct llm_stream *s, const char *type, const char *message, bool retryable)
{
  if (s->error_type[0])
    return; /* the first one counts */
  snprintf (s->error_type, sizeof s->error_type, "%s", type && type[0] ? type : "error");
  snprintf (s->error_msg, sizeof s->error_msg, "%s", message ? message : "");
  s->error_retryable = retryable;
}

/* ---- reading the answer ------------------------------------------------------------------- */

void
llm_stream_begin (struct llm_stream *s, const struct llm_provider *p, bool streaming)
{
  llm_stream_free (s);
  s->p = p;
  s->streaming = streaming;
  s->prompt_tokens = s->completion_tokens = s->total_tokens = -1;
  s->cost = -1;
}

void
llm_stream_free (struct llm_stream *s)
{
  free (s->raw);
  free (s->text);
  free (s->sse_data);
  for (int i = 0; i < s->n_tools; i++)
    {
      free (s->tools[i].id);
      free (s->tools[i].name);
      free (s->tools[i].args);
    }
  s->raw = s->text = s->sse_data = NULL;
  s->raw_len = s->raw_cap = s->text_len = s->text_cap = s->total = 0;
  s->sse_len = s->sse_cap = 0;
  s->n_tools = 0;
  s->next_call_id = 0;
  s->http_status = 0;
  s->retry_after = 0;
  s->mode = LLM_BODY_UNKNOWN;
  s->malformed = s->completed = false;
  s->events = 0;
  s->head[0] = s->finish_reason[0] = s->error_type[0] = s->error_msg[0] = '\0';
  s->error_retryable = false;
  s->sse_event[0] = '\0';
}

static void
sse_dispatch (struct llm_stream *s)
{
  if (s->sse_len > 0 || s->sse_event[0])
    s->p->event (s, s->sse_event, s->sse_data ? s->sse_data : "", s->sse_len);
  s->sse_len = 0;
  if (s->sse_data)
    s->sse_data[0] = '\0';
  s->sse_event[0] = '\0';
}

/* One line of server-sent events (without its end of line).  */
static void
sse_line (struct llm_stream *s, char *line)
{
  char *value = strchr (line, ':');

  if (line[0] == '\0')
    return sse_dispatch (s);
  if (value == line)
    return; /* a comment */
  if (value)
    {
      *value++ = '\0';
      if (*value == ' ')
        value++;
    }
  else
    value = line + strlen (line);
  if (strcmp (line, "data") == 0)
    {
      if (s->sse_len > 0 && append (&s->sse_data, &s->sse_len, &s->sse_cap, "\n", 1) < 0)
        s->malformed = true;
      if (append (&s->sse_data, &s->sse_len, &s->sse_cap, value, strlen (value)) < 0)
        s->malformed = true;
      /* An empty data line still makes an event.  */
      if (s->sse_data == NULL && append (&s->sse_data, &s->sse_len, &s->sse_cap, "", 0) < 0)
        s->malformed = true;
    }
  else if (strcmp (line, "event") == 0)
    snprintf (s->sse_event, sizeof s->sse_event, "%s", value);
  /* id:, retry: and unknown fields are ignored, as the spec says.  */
}

static void
sse_feed (struct llm_stream *s)
{
  char *nl;

  while ((nl = memchr (s->raw, '\n', s->raw_len)) != NULL)
    {
      size_t used = (size_t) (nl - s->raw) + 1;
      *nl = '\0';
      if (nl > s->raw && nl[-1] == '\r')
        nl[-1] = '\0';
      sse_line (s, s->raw);
      memmove (s->raw, s->raw + used, s->raw_len - used);
      s->raw_len -= used;
      s->raw[s->raw_len] = '\0';
    }
}

/* AWS event-stream messages; false when the framing is broken.  */
static bool
es_feed (struct llm_stream *s)
{
  for (;;)
    {
      struct es_message m;
      long used = es_decode ((const unsigned char *) s->raw, s->raw_len, &m);
      if (used == 0)
        return true;
      if (used < 0)
        {
          s->malformed = true;
          snprintf (s->error_msg, sizeof s->error_msg,
                    "the event stream is malformed (bad length or CRC)");
          return false;
        }
      if (m.message_type && strcmp (m.message_type, "event") != 0)
        {
          char name[140];
          snprintf (name, sizeof name, "!%s",
                    m.exception    ? m.exception
                    : m.error_code ? m.error_code
                                   : m.message_type);
          s->p->event (s, name, m.payload, m.payload_len);
        }
      else
        s->p->event (s, m.event_type ? m.event_type : "", m.payload, m.payload_len);
      memmove (s->raw, s->raw + used, s->raw_len - (size_t) used);
      s->raw_len -= (size_t) used;
      s->raw[s->raw_len] = '\0';
    }
}

bool
llm_stream_feed (struct llm_stream *s, const char *data, size_t n)
{
  if (s->total < sizeof s->head - 1)
    {
      size_t have = s->total, take = sizeof s->head - 1 - have;
      memcpy (s->head + have, data, n < take ? n : take);
      s->head[have + (n < take ? n : take)] = '\0';
    }
  if (s->mode == LLM_BODY_UNKNOWN && n > 0)
    {
      /* An error (or a server that ignored "stream") answers with one JSON
       * document; a stream starts with "data:"/"event:" or a binary
       * prelude.  */
      size_t i = 0;
      while (i < n && (data[i] == ' ' || data[i] == '\r' || data[i] == '\n' || data[i] == '\t'))
        i++;
      if (!s->streaming || (s->http_status != 0 && s->http_status != 200)
          || (i < n && (data[i] == '{' || data[i] == '[')))
        s->mode = LLM_BODY_JSON;
      else if (i < n)
        s->mode = LLM_BODY_STREAM;
    }
  s->total += n;
  if (s->total > LLM_MAX_RESPONSE)
    return false; /* aborts the transfer: CURLE_WRITE_ERROR */
  if (append (&s->raw, &s->raw_len, &s->raw_cap, data, n) < 0)
    return false;
  if (s->mode != LLM_BODY_STREAM)
    return true;
  if (s->p->framing == LLM_EVENTSTREAM)
    return es_feed (s);
  sse_feed (s);
  return true;
}

void
llm_stream_end (struct llm_stream *s)
{
  if (s->mode != LLM_BODY_STREAM || s->p->framing != LLM_SSE)
    return;
  /* A last line without its newline, then a last event without its blank
   * line.  */
  if (s->raw_len > 0)
    {
      char *line = strndup (s->raw, s->raw_len);
      if (line)
        {
          line[strcspn (line, "\r")] = '\0';
          sse_line (s, line);
          free (line);
        }
      s->raw_len = 0;
    }
  sse_dispatch (s);
}

static cJSON *
tool_calls_json (const struct llm_stream *s)
{
  cJSON *list = cJSON_CreateArray ();

  for (int i = 0; i < s->n_tools; i++)
    {
      const struct llm_tool *t = &s->tools[i];
      cJSON *c = cJSON_CreateObject (), *fn = cJSON_CreateObject ();
      char id[32];
      snprintf (id, sizeof id, "call_%d", i);
      cJSON_AddStringToObject (c, "id", t->id ? t->id : id);
      cJSON_AddStringToObject (c, "type", "function");
      cJSON_AddStringToObject (fn, "name", t->name ? t->name : "");
      cJSON_AddStringToObject (fn, "arguments", t->args_len ? t->args : "{}");
      cJSON_AddItemToObject (c, "function", fn);
      cJSON_AddItemToArray (list, c);
    }
  return list;
}

cJSON *
llm_stream_reply (struct llm_stream *s, const char *model, char *why, size_t whysize)
{
  cJSON *data, *usage;

  if (s->mode != LLM_BODY_STREAM)
    {
      cJSON *doc = s->raw ? cJSON_ParseWithLength (s->raw, s->raw_len) : NULL;
      if (cJSON_IsObject (doc))
        s->p->body (s, doc);
      else
        s->malformed = true;
      cJSON_Delete (doc);
    }
  /* A streamed answer with no event in it (an HTML error page, a truncated
   * body) is not a completion.  */
  else if (s->events == 0)
    s->malformed = true;
  if (s->error_type[0])
    {
      snprintf (why, whysize, "%s: %s", s->error_type, s->error_msg);
      return NULL;
    }
  if (s->malformed && s->text_len == 0 && s->n_tools == 0)
    {
      snprintf (why, whysize, "the model server's response is not %s: %.200s", s->p->answer,
                s->head);
      return NULL;
    }
  if (s->mode == LLM_BODY_STREAM && !s->completed)
    {
      snprintf (why, whysize,
                "the model server's stream ended before the answer was complete (%zu bytes, no "
                "end marker of %s)",
                s->total, s->p->answer);
      return NULL;
    }
  data = cJSON_CreateObject ();
  cJSON_AddStringToObject (data, "text", s->text ? s->text : "");
  if (s->n_tools > 0)
    cJSON_AddItemToObject (data, "tool_calls", tool_calls_json (s));
  usage = cJSON_AddObjectToObject (data, "usage");
  if (s->prompt_tokens >= 0)
    cJSON_AddNumberToObject (usage, "prompt_tokens", (double) s->prompt_tokens);
  if (s->completion_tokens >= 0)
    cJSON_AddNumberToObject (usage, "completion_tokens", (double) s->completion_tokens);
  if (s->total_tokens < 0 && s->prompt_tokens >= 0 && s->completion_tokens >= 0)
    s->total_tokens = s->prompt_tokens + s->completion_tokens;
  if (s->total_tokens >= 0)
    cJSON_AddNumberToObject (usage, "total_tokens", (double) s->total_tokens);
  if (s->cost >= 0)
    {
      cJSON_AddNumberToObject (usage, "cost", s->cost);
      cJSON_AddStringToObject (usage, "cost_source", "provider");
    }
  cJSON_AddStringToObject (data, "model", model);
  if (s->finish_reason[0])
    cJSON_AddStringToObject (data, "finish_reason", s->finish_reason);
  return data;
}

/* ---- libcurl ------------------------------------------------------------------------------- */

static size_t
on_data (char *ptr, size_t size, size_t nmemb, void *ud)
{
  size_t n = size * nmemb;
  return llm_stream_feed (ud, ptr, n) ? n : 0;
}

/* The status line (each response's, so a 100 Continue is replaced) and
 * Retry-After.  */
static size_t
on_header (char *ptr, size_t size, size_t nmemb, void *ud)
{
  struct llm_stream *s = ud;
  size_t n = size * nmemb;
  char line[128];

  if (n >= sizeof line)
    return n;
  memcpy (line, ptr, n);
  line[n] = '\0';
  if (strncmp (line, "HTTP/", 5) == 0)
    {
      const char *sp = strchr (line, ' ');
      s->http_status = sp ? strtol (sp + 1, NULL, 10) : 0;
      s->retry_after = 0;
    }
  else if (strncasecmp (line, "retry-after:", 12) == 0)
    {
      double v = strtod (line + 12, NULL);
      if (v > 0 && v < 3600)
        s->retry_after = v;
    }
  return n;
}

static int
on_progress (void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
  struct llm_stream *s = ud;
  sigset_t pending;

  (void) dltotal, (void) dlnow, (void) ultotal, (void) ulnow;
  sigpending (&pending);
  s->deadline = s->b->peer->ms_left (s->b->peer->ctx) == 0;
  if (s->deadline || sigismember (&pending, SIGINT) || sigismember (&pending, SIGTERM)
      || sigismember (&pending, SIGHUP))
    {
      s->aborted = true;
      return 1;
    }
  return 0;
}

/* One HTTP attempt.  Returns the HTTP status, or -1 with CURLcode in *CC.  */
static long
attempt (const struct curl_api *c, struct llm_stream *s, const struct llm_http *hq, double timeout,
         CURLcode *cc)
{
  CURL *curl = c->easy_init ();
  struct curl_slist *h = NULL;
  long status = -1;

  if (curl == NULL)
    {
      *cc = CURLE_OUT_OF_MEMORY;
      return -1;
    }
  h = c->slist_append (h, "Content-Type: application/json");
  h = c->slist_append (h, !s->streaming ? "Accept: application/json"
                          : s->p->framing == LLM_EVENTSTREAM
                              ? "Accept: application/vnd.amazon.eventstream"
                              : "Accept: text/event-stream");
  for (int i = 0; i < hq->n_headers; i++)
    h = c->slist_append (h, hq->headers[i]);
  c->easy_setopt (curl, CURLOPT_URL, hq->url);
  c->easy_setopt (curl, CURLOPT_HTTPHEADER, h);
  c->easy_setopt (curl, CURLOPT_POSTFIELDS, hq->body);
  c->easy_setopt (curl, CURLOPT_WRITEFUNCTION, on_data);
  c->easy_setopt (curl, CURLOPT_WRITEDATA, s);
  c->easy_setopt (curl, CURLOPT_HEADERFUNCTION, on_header);
  c->easy_setopt (curl, CURLOPT_HEADERDATA, s);
  c->easy_setopt (curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  c->easy_setopt (curl, CURLOPT_XFERINFODATA, s);
  c->easy_setopt (curl, CURLOPT_NOPROGRESS, 0L);
  c->easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  c->easy_setopt (curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  c->easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long) (timeout * 1000));
  /* A server that stops sending for 30 s is treated as hung.  */
  c->easy_setopt (curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  c->easy_setopt (curl, CURLOPT_LOW_SPEED_TIME, 30L);
  c->easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
  c->easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 0L);
  *cc = c->easy_perform (curl);
  if (*cc == CURLE_OK)
    {
      c->easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
      llm_stream_end (s);
    }
  c->slist_free_all (h);
  c->easy_cleanup (curl);
  return status;
}

/* ---- choosing the provider ------------------------------------------------------------------ */

static const struct
{
  const char *prefix;
  const struct llm_provider *p;
  const char *endpoint; /* the providers: entry that configures it */
} builtin[] = {
  { "openai", &llm_openai, "openai" },     { "anthropic", &llm_anthropic, "anthropic" },
  { "google", &llm_gemini, "google" },     { "gemini", &llm_gemini, "google" },
  { "google-gla", &llm_gemini, "google" }, { "bedrock", &llm_bedrock, "bedrock" },
};
#define N_BUILTIN (sizeof builtin / sizeof builtin[0])

static const struct broker_endpoint *
find_endpoint (const struct broker_state *b, const char *name)
{
  for (size_t i = 0; i < b->o->n_endpoints; i++)
    if (strcmp (b->o->endpoints[i].name, name) == 0)
      return &b->o->endpoints[i];
  return NULL;
}

static void
supported_list (const struct broker_state *b, char *buf, size_t size)
{
  size_t len;

  snprintf (buf, size, "openai, anthropic, google (also gemini, google-gla), bedrock");
  for (size_t i = 0; i < b->o->n_endpoints; i++)
    {
      const struct broker_endpoint *e = &b->o->endpoints[i];
      bool known = false;
      for (size_t j = 0; j < N_BUILTIN; j++)
        known = known || strcmp (builtin[j].prefix, e->name) == 0;
      if (known)
        continue;
      len = strlen (buf);
      snprintf (buf + len, size - len, ", %s (providers.%s in config)", e->name, e->name);
    }
}

/* The provider for NAME: a built-in prefix or a configured endpoint.  */
static bool
lookup (const struct broker_state *b, const char *name, size_t len, const struct llm_provider **p,
        const struct broker_endpoint **ep, const char **canon)
{
  for (size_t i = 0; i < N_BUILTIN; i++)
    if (strlen (builtin[i].prefix) == len && strncmp (builtin[i].prefix, name, len) == 0)
      {
        *p = builtin[i].p;
        *canon = builtin[i].endpoint;
        *ep = find_endpoint (b, builtin[i].endpoint);
        if (*ep == NULL && strcmp (builtin[i].endpoint, "google") == 0)
          *ep = find_endpoint (b, "gemini");
        return true;
      }
  for (size_t i = 0; i < b->o->n_endpoints; i++)
    if (strlen (b->o->endpoints[i].name) == len
        && strncmp (b->o->endpoints[i].name, name, len) == 0)
      {
        *p = &llm_openai;
        *ep = &b->o->endpoints[i];
        *canon = b->o->endpoints[i].name;
        return true;
      }
  return false;
}

struct choice
{
  const struct llm_provider *p;
  const struct broker_endpoint *ep;
  const char *canon; /* openai, anthropic, google, bedrock, or a configured name */
  const char *model; /* without the prefix */
};

/* From params.model (and params.provider, params.model_type).  0, or -1
 * with an UnsupportedProvider message in WHY.  */
static int
choose (const struct broker_state *b, const cJSON *params, struct choice *ch, char *why,
        size_t whysize)
{
  const char *model = cJSON_GetObjectItemCaseSensitive (params, "model")->valuestring;
  const cJSON *prov = cJSON_GetObjectItemCaseSensitive (params, "provider");
  const cJSON *type = cJSON_GetObjectItemCaseSensitive (params, "model_type");
  const char *slash = strchr (model, '/'), *colon = strchr (model, ':');
  char list[600];

  supported_list (b, list, sizeof list);
  ch->model = model;
  if (prov && !cJSON_IsNull (prov))
    {
      if (!cJSON_IsString (prov)
          || !lookup (b, prov->valuestring, strlen (prov->valuestring), &ch->p, &ch->ep,
                      &ch->canon))
        {
          snprintf (why, whysize, "provider '%.100s' is not supported (supported: %s)",
                    cJSON_IsString (prov) ? prov->valuestring : "?", list);
          return -1;
        }
      /* provider = "anthropic", model = "anthropic/claude-..." */
      size_t n = strlen (prov->valuestring);
      if (strncmp (model, prov->valuestring, n) == 0 && (model[n] == '/' || model[n] == ':'))
        ch->model = model + n + 1;
    }
  else if (slash)
    {
      if (!lookup (b, model, (size_t) (slash - model), &ch->p, &ch->ep, &ch->canon))
        {
          snprintf (why, whysize,
                    "model '%.200s': unknown provider '%.*s' (supported: %s; a model of an "
                    "OpenAI-compatible server is openai/%.100s)",
                    model, (int) (slash - model > 60 ? 60 : slash - model), model, list, model);
          return -1;
        }
      ch->model = slash + 1;
    }
  /* pydantic-ai's "openai:gpt-4o"; a colon elsewhere is part of the name
   * (llama3:8b, anthropic.claude-v2:1).  */
  else if (colon && lookup (b, model, (size_t) (colon - model), &ch->p, &ch->ep, &ch->canon))
    ch->model = colon + 1;
  else if (!lookup (b, "openai", 6, &ch->p, &ch->ep, &ch->canon))
    return -1;
  if (ch->model[0] == '\0')
    {
      snprintf (why, whysize, "model '%.200s' names no model after the provider", model);
      return -1;
    }
  if (cJSON_IsString (type) && strcmp (type->valuestring, "responses") == 0)
    {
      if (ch->p != &llm_openai)
        {
          snprintf (why, whysize,
                    "model_type = \"responses\" is OpenAI's Responses API; model '%.200s' is "
                    "served by %s",
                    model, ch->canon);
          return -1;
        }
      ch->p = &llm_responses;
    }
  else if (type && !cJSON_IsNull (type)
           && !(cJSON_IsString (type)
                && (strcmp (type->valuestring, "chat") == 0
                    || strcmp (type->valuestring, "completions") == 0)))
    {
      snprintf (why, whysize, "model_type '%.60s' is not known (responses, or none for chat)",
                cJSON_IsString (type) ? type->valuestring : "?");
      return -1;
    }
  return 0;
}

static bool
model_allowed (const struct policy *p, const char *model, const struct choice *ch)
{
  char full[400];

  if (p == NULL || p->models == NULL)
    return true;
  snprintf (full, sizeof full, "%s/%s", ch->canon, ch->model);
  for (char **m = p->models; *m; m++)
    if (strcmp (*m, model) == 0 || strcmp (*m, ch->model) == 0 || strcmp (*m, full) == 0)
      return true;
  return false;
}

/* config, then the provider's environment variable(s), then its default.  */
static const char *
base_url (const struct broker_state *b, const struct choice *ch, const char *region, char *buf,
          size_t size)
{
  const char *v = ch->ep ? ch->ep->base_url : NULL;
  size_t n;

  if (v == NULL && strcmp (ch->canon, "openai") == 0)
    v = b->o->llm_base_url;
  if (v == NULL && strcmp (ch->canon, "anthropic") == 0)
    v = getenv ("ANTHROPIC_BASE_URL");
  if (v == NULL && strcmp (ch->canon, "google") == 0)
    v = getenv ("GOOGLE_GEMINI_BASE_URL");
  if (v == NULL && strcmp (ch->canon, "bedrock") == 0)
    {
      v = getenv ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME");
      if (v == NULL || !*v)
        v = getenv ("AWS_ENDPOINT_URL");
    }
  if (v && *v)
    snprintf (buf, size, "%s", v);
  else if (strcmp (ch->canon, "bedrock") == 0)
    snprintf (buf, size, "https://bedrock-runtime.%s.amazonaws.com", region ? region : "");
  else
    snprintf (buf, size, "%s", ch->p->default_base ? ch->p->default_base : "");
  n = strlen (buf);
  while (n > 0 && buf[n - 1] == '/')
    buf[--n] = '\0';
  return buf;
}

static char *
env_dup (const char *name)
{
  const char *v = name ? getenv (name) : NULL;
  return v && *v ? strdup (v) : NULL;
}

/* The key, from the host only.  A configured endpoint of a new name gets
 * only its own api_key_env: another provider's key never goes to it.  */
static char *
read_key (const struct broker_state *b, const struct choice *ch)
{
  char *k;

  if (ch->ep && ch->ep->api_key_env)
    return env_dup (ch->ep->api_key_env);
  if (ch->ep && ch->ep->api)
    return NULL;
  for (int i = 0; i < 3 && ch->p->key_env[i]; i++)
    if ((k = env_dup (ch->p->key_env[i])) != NULL)
      return k;
  if (ch->p->key_config && b->o->secret_reader)
    {
      k = b->o->secret_reader (b->o->procedure_path, ch->p->key_config);
      if (k == NULL && strcmp (ch->canon, "google") == 0)
        k = b->o->secret_reader (b->o->procedure_path, "gemini_api_key");
      return k;
    }
  return NULL;
}

static void
creds_free (struct llm_creds *cr)
{
  wipe_free (cr->key);
  wipe_free (cr->aws_access_key_id);
  wipe_free (cr->aws_secret_access_key);
  wipe_free (cr->aws_session_token);
  memset (cr, 0, sizeof *cr);
}

/* Every secret of CR out of TEXT.  */
static void
redact_creds (char *text, const struct llm_creds *cr)
{
  redact (text, cr->key);
  redact (text, cr->aws_secret_access_key);
  redact (text, cr->aws_session_token);
}

/* ---- usage and cost --------------------------------------------------------------------- */

static void
add_tokens (long *sum, long n)
{
  if (n > 0)
    *sum = *sum > LONG_MAX - n ? LONG_MAX : *sum + n;
}

/* Count a completed call's tokens.  A server that reports no usage (or no
 * total) is charged CHARGE, the max_tokens the request was sent with: the
 * per-run budget cannot be bypassed by leaving usage out.  */
static void
count_usage (struct broker_state *b, const struct llm_stream *s, long charge)
{
  long total = s->total_tokens;

  b->out->llm_calls++;
  add_tokens (&b->out->prompt_tokens, s->prompt_tokens);
  add_tokens (&b->out->completion_tokens, s->completion_tokens);
  add_tokens (&b->out->total_tokens, total);
  if (total < 0 && charge > 0)
    {
      trace_note (b->o->trace, "log", "WARNING",
                  "the model server reported no token usage: %ld tokens (the request's max_tokens) "
                  "are charged to policy.max_tokens",
                  charge);
      total = charge;
    }
  add_tokens (&b->tokens_used, total);
}

/* The price table's cost, when the server reported none.  */
static void
add_cost (struct broker_state *b, cJSON *data, const struct llm_stream *s, const struct choice *ch)
{
  cJSON *usage = cJSON_GetObjectItemCaseSensitive (data, "usage");
  double in, out;

  if (s->cost >= 0 || s->prompt_tokens < 0 || s->completion_tokens < 0)
    return;
  if (prices_lookup (ch->canon, ch->model, b->o->price_overrides, &in, &out) < 0)
    return;
  cJSON_AddNumberToObject (
      usage, "cost", ((double) s->prompt_tokens * in + (double) s->completion_tokens * out) / 1e6);
  cJSON_AddStringToObject (usage, "cost_source", "price_table");
}

/* ---- errors ---------------------------------------------------------------------------------- */

/* The server's own words from an error body, whatever the provider's
 * shape: {"error": {"message", "type"|"status"}}, {"error": "..."},
 * {"message": ...} or {"Message": ...}.  */
static void
error_detail (const struct llm_stream *s, char *buf, size_t size)
{
  cJSON *doc = s->raw ? cJSON_ParseWithLength (s->raw, s->raw_len) : NULL;
  const cJSON *e = cJSON_GetObjectItemCaseSensitive (doc, "error");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive (e, "message");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive (e, "type");

  if (!cJSON_IsString (t))
    t = cJSON_GetObjectItemCaseSensitive (e, "status");
  if (!cJSON_IsString (m))
    m = cJSON_IsString (e) ? e : cJSON_GetObjectItemCaseSensitive (doc, "message");
  if (!cJSON_IsString (m))
    m = cJSON_GetObjectItemCaseSensitive (doc, "Message");
  if (cJSON_IsString (t) && cJSON_IsString (m))
    snprintf (buf, size, "%.60s: %.300s", t->valuestring, m->valuestring);
  else if (cJSON_IsString (m))
    snprintf (buf, size, "%.300s", m->valuestring);
  else if (doc == NULL && s->head[0])
    snprintf (buf, size, "%.200s", s->head);
  else
    buf[0] = '\0';
  cJSON_Delete (doc);
}

static const char *
key_hint (const struct choice *ch)
{
  if (ch->ep && ch->ep->api_key_env)
    return ch->ep->api_key_env;
  if (strcmp (ch->canon, "openai") == 0)
    return "OPENAI_API_KEY on the host, or openai_api_key in ~/.tactus/config.yml";
  if (strcmp (ch->canon, "anthropic") == 0)
    return "ANTHROPIC_API_KEY on the host, or anthropic_api_key in ~/.tactus/config.yml";
  if (strcmp (ch->canon, "google") == 0)
    return "GOOGLE_API_KEY (or GEMINI_API_KEY) on the host, or google_api_key in "
           "~/.tactus/config.yml";
  if (strcmp (ch->canon, "bedrock") == 0)
    return "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY on the host, aws: in ~/.tactus/config.yml, "
           "or ~/.aws/credentials";
  return "providers.<name>.api_key_env in the config";
}

static void
error_from_status (struct broker_state *b, const cJSON *id, long status, const struct llm_stream *s,
                   const char *model, const char *base, const struct choice *ch,
                   const struct llm_creds *cr)
{
  char detail[420];

  error_detail (s, detail, sizeof detail);
  redact_creds (detail, cr);
  if (status == 401 || status == 403)
    broker_reply_error (b, id, "AuthenticationError",
                        "the model server at %s refused the %s (HTTP %ld; set %s) %s", base,
                        strcmp (ch->canon, "bedrock") == 0 ? "AWS credentials" : "API key", status,
                        key_hint (ch), detail);
  else if (status == 404)
    broker_reply_error (b, id, "UnknownModel", "model '%s' is not known to %s (HTTP 404) %s", model,
                        base, detail);
  else
    broker_reply_error (b, id, "ModelError", "the model server at %s (%s) answered HTTP %ld%s %s",
                        base, ch->canon, status,
                        status == 529   ? " (overloaded)"
                        : status == 429 ? " (rate limited)"
                                        : "",
                        detail);
}

/* ---- llm.chat ----------------------------------------------------------------------------------
 */

static bool
retryable (long status, CURLcode cc, const struct llm_stream *s)
{
  if (s->error_type[0])
    return s->error_retryable;
  return status == 429 || (status >= 500 && status < 600) || cc == CURLE_COULDNT_CONNECT
         || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE;
}

/* The back-off before attempt I+1: the server's Retry-After (bounded),
 * else 250 ms doubling; never past the run's deadline.  */
static useconds_t
backoff_us (const struct broker_state *b, const struct llm_stream *s, int i)
{
  long ms = s->retry_after > 0 ? (long) (s->retry_after * 1000) : 250L << i;
  int left = b->peer->ms_left (b->peer->ctx);

  if (ms > MAX_RETRY_WAIT_MS)
    ms = MAX_RETRY_WAIT_MS;
  if (left >= 0 && ms > left)
    ms = left;
  return (useconds_t) ms * 1000;
}

void
broker_llm_chat (struct broker_state *b, const cJSON *id, const cJSON *params)
{
  const cJSON *model = cJSON_GetObjectItemCaseSensitive (params, "model");
  const cJSON *messages = cJSON_GetObjectItemCaseSensitive (params, "messages");
  const cJSON *stream = cJSON_GetObjectItemCaseSensitive (params, "stream");
  const cJSON *agent = cJSON_GetObjectItemCaseSensitive (params, "agent_name");
  const cJSON *mt = cJSON_GetObjectItemCaseSensitive (params, "max_tokens");
  const struct policy *p = b->o->policy;
  struct llm_stream s = { .b = b, .id = id };
  struct llm_http hq = { 0 };
  struct llm_creds cr = { 0 };
  struct llm_call call = { .params = params };
  struct choice ch = { 0 };
  char base[1024], why[600], region[64] = "";
  long status = -1;
  CURLcode cc = CURLE_OK;
  const struct curl_api *c;
  cJSON *data;
  long budget, asked = 0;
  bool stopped_malformed = false;

  if (!cJSON_IsString (model) || !cJSON_IsArray (messages))
    return broker_violation (b, id,
                             "llm.chat needs params.model (a string) and params.messages (a list)");
  if (choose (b, params, &ch, why, sizeof why) < 0)
    return (void) broker_reply_error (b, id, "UnsupportedProvider", "%s", why);
  if (!model_allowed (p, model->valuestring, &ch))
    return (void) broker_reply_error (
        b, id, "ModelNotAllowed", "model '%s' is not allowed by the policy", model->valuestring);
  if (p && p->max_tokens > 0 && b->tokens_used >= p->max_tokens)
    return (void) broker_reply_error (
        b, id, "TokenBudgetExceeded",
        "the run used its %ld tokens (policy.max_tokens; a call whose "
        "server reports no usage is charged its max_tokens)",
        p->max_tokens);
  c = curl_lazy_load (why, sizeof why);
  if (c == NULL)
    return (void) broker_reply_error (b, id, "ConnectionError", "model calls need libcurl: %s",
                                      why);
  /* Credentials and region, read on the host now.  */
  if (ch.p == &llm_bedrock)
    {
      if (llm_bedrock_creds (b, ch.ep, &cr, region, sizeof region, why, sizeof why) < 0)
        {
          creds_free (&cr);
          return (void) broker_reply_error (b, id, "AuthenticationError", "%s", why);
        }
    }
  else
    cr.key = read_key (b, &ch);
  call.model = ch.model;
  call.base = base_url (b, &ch, region, base, sizeof base);
  call.region = region[0] ? region : NULL;
  call.stream = !cJSON_IsFalse (stream);
  /* Each request may use at most what is left of the run's budget.  */
  budget = p && p->max_tokens > 0 ? p->max_tokens - b->tokens_used : 0;
  if (cJSON_IsNumber (mt) && mt->valuedouble >= 1)
    asked = mt->valuedouble > 1e9 ? 1000000000L : (long) mt->valuedouble;
  else if (cJSON_IsNumber (mt))
    asked = 1;
  call.max_tokens = budget > 0 && (asked == 0 || asked > budget) ? budget : asked;
  if (cr.key == NULL && ch.p != &llm_bedrock && ch.p->default_base
      && strcmp (base, ch.p->default_base) == 0)
    {
      creds_free (&cr);
      return (void) broker_reply_error (b, id, "AuthenticationError",
                                        "no API key for %s: set %s (for a local "
                                        "OpenAI-compatible server set OPENAI_BASE_URL or "
                                        "providers.NAME.base_url)",
                                        base, key_hint (&ch));
    }
  if (ch.p->build (&call, &cr, &hq, why, sizeof why) < 0)
    {
      creds_free (&cr);
      llm_http_free (&hq);
      return (void) broker_reply_error (b, id, "BadRequest", "%s", why);
    }
  s.agent = cJSON_IsString (agent) ? agent->valuestring : NULL;
  for (int i = 0; i < MAX_ATTEMPTS; i++)
    {
      llm_stream_begin (&s, ch.p, call.stream);
      status = attempt (c, &s, &hq, b->o->llm_timeout, &cc);
      if (s.aborted)
        break;
      stopped_malformed = cc == CURLE_WRITE_ERROR && s.total <= LLM_MAX_RESPONSE;
      if (stopped_malformed)
        break;
      if (status == 200 && !s.error_type[0])
        break;
      if (retryable (status, cc, &s) && i + 1 < MAX_ATTEMPTS && s.text_len == 0 && s.n_tools == 0)
        {
          trace_note (b->o->trace, "log", "WARNING", "model call failed (%s); retrying",
                      s.error_type[0] ? s.error_type
                      : status > 0    ? "HTTP error"
                                      : c->easy_strerror (cc));
          usleep (backoff_us (b, &s, i));
          if (b->peer->ms_left (b->peer->ctx) == 0)
            {
              s.aborted = s.deadline = true;
              break;
            }
          continue;
        }
      break;
    }
  /* Error messages quote the body; a server that echoes the key (a
   * proxy's "invalid key sk-...") must not carry it into the sandbox.  */
  redact_creds (s.raw, &cr);
  redact_creds (s.head, &cr);
  redact_creds (s.error_msg, &cr);
  if (s.aborted && s.deadline && !b->out->timed_out)
    {
      /* The run is over, as when the broker loop sees the deadline.  */
      b->out->timed_out = true;
      trace_note (b->o->trace, "log", "ERROR",
                  "the run passed its deadline during a model call: "
                  "killing the sandbox");
      b->peer->kill (b->peer->ctx);
    }
  if (s.aborted)
    broker_reply_error (b, id, "Cancelled", "the model call was stopped (deadline or signal)");
  else if (status < 0 && cc == CURLE_WRITE_ERROR && s.total > LLM_MAX_RESPONSE)
    broker_reply_error (b, id, "ResponseTooLarge",
                        "the model server at %s sent more than 8 MiB; the call was stopped", base);
  else if (status < 0 && stopped_malformed)
    broker_reply_error (b, id, "MalformedResponse", "the model server at %s: %s", base,
                        s.error_msg[0] ? s.error_msg : "the answer could not be read");
  else if (status < 0)
    broker_reply_error (b, id, cc == CURLE_OPERATION_TIMEDOUT ? "Timeout" : "ConnectionError",
                        "cannot complete the model call to %s: %s%s", base, c->easy_strerror (cc),
                        s.text_len || s.n_tools ? " (the stream broke off mid-answer)" : "");
  else if (status != 200)
    error_from_status (b, id, status, &s, model->valuestring, base, &ch, &cr);
  else if ((data = llm_stream_reply (&s, model->valuestring, why, sizeof why)) == NULL)
    {
      redact_creds (why, &cr);
      broker_reply_error (b, id, s.error_type[0] ? "ModelError" : "MalformedResponse", "%s", why);
    }
  else
    {
      cJSON_AddStringToObject (data, "provider", ch.canon);
      add_cost (b, data, &s, &ch);
      broker_reply (b, id, "done", data);
      count_usage (b, &s, hq.sent_max_tokens);
    }
  creds_free (&cr);
  llm_http_free (&hq);
  llm_stream_free (&s);
}
