/* llm.chat: model calls made by the broker, never by the sandbox.
 *
 * The VM sends an OpenAI-style chat request; the broker adds the API key
 * (read from the host environment or host config only now, after the
 * sandbox was forked), calls an OpenAI-compatible /chat/completions
 * endpoint with libcurl, streams the text back as `delta` events and ends
 * with `done {text, tool_calls, usage}`.  Bounded everywhere: response
 * size, time (connect, total, stall), retries (429/5xx, with backoff).  The
 * transfer also stops when the run's deadline passes or a stop signal
 * arrives.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <curl/curl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/curl_lazy.h"
#include "broker/internal.h"
#include "broker/trace.h"

#define MAX_RESPONSE (8 << 20)
#define MAX_ATTEMPTS 3

struct stream
{
  struct broker_state *b;
  const cJSON *id;
  const char *agent;
  bool streaming;
  char *raw; /* the whole body (non-streaming), or the SSE line buffer */
  size_t raw_len, raw_cap;
  size_t total; /* bytes received, for the size cap */
  char *text;   /* accumulated assistant text */
  size_t text_len, text_cap;
  cJSON *tool_calls; /* array being assembled from deltas */
  cJSON *usage;
  bool malformed;
  bool aborted;   /* deadline or stop signal */
  bool deadline;  /* it was the run's deadline */
  bool sse;       /* streaming, and the body is server-sent events (not one
                     JSON document: an error, or a server ignoring stream) */
  int events;     /* SSE data events parsed */
  char head[201]; /* the start of the body, for error messages */
  char finish_reason[32];
};

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

/* Longest text repeated as accumulated_text in each streamed chunk event.  */
#define TRACE_ACCUMULATED_MAX (16 * 1024)

static void
send_delta (struct stream *s, const char *text)
{
  cJSON *d = cJSON_CreateObject ();
  cJSON *ev;

  cJSON_AddStringToObject (d, "text", text);
  /* A VM that lags behind the stream gets the text in the final reply
   * only: the broker's queue stays bounded by that one message.  */
  if (s->b->outq_bytes > BROKER_DELTA_BACKLOG)
    cJSON_Delete (d);
  else
    broker_reply (s->b, s->id, "delta", d);
  ev = cJSON_CreateObject ();
  cJSON_AddStringToObject (ev, "event_type", "agent_stream_chunk");
  cJSON_AddStringToObject (ev, "agent_name", s->agent ? s->agent : "agent");
  cJSON_AddStringToObject (ev, "chunk_text", text);
  /* As Tactus's chunks carry it, up to a bound: repeating a long text in
   * every chunk would make the trace grow with its square.  */
  if (s->text && s->text_len <= TRACE_ACCUMULATED_MAX)
    cJSON_AddStringToObject (ev, "accumulated_text", s->text);
  trace_event (s->b->o->trace, ev);
  cJSON_Delete (ev);
}

/* Merge one streamed tool-call delta (OpenAI: by index; id and name come
 * once, arguments in pieces).  */
static void
merge_tool_call (struct stream *s, const cJSON *tc)
{
  const cJSON *idx = cJSON_GetObjectItemCaseSensitive (tc, "index");
  const cJSON *fn = cJSON_GetObjectItemCaseSensitive (tc, "function");
  int i = cJSON_IsNumber (idx) ? idx->valueint : cJSON_GetArraySize (s->tool_calls);
  cJSON *slot, *sfn, *args;
  const cJSON *v;

  if (i < 0 || i > 64)
    {
      s->malformed = true;
      return;
    }
  while (cJSON_GetArraySize (s->tool_calls) <= i)
    {
      cJSON *n = cJSON_CreateObject ();
      cJSON *f = cJSON_CreateObject ();
      cJSON_AddStringToObject (n, "id", "");
      cJSON_AddStringToObject (n, "type", "function");
      cJSON_AddStringToObject (f, "name", "");
      cJSON_AddStringToObject (f, "arguments", "");
      cJSON_AddItemToObject (n, "function", f);
      cJSON_AddItemToArray (s->tool_calls, n);
    }
  slot = cJSON_GetArrayItem (s->tool_calls, i);
  sfn = cJSON_GetObjectItemCaseSensitive (slot, "function");
  if (cJSON_IsString (v = cJSON_GetObjectItemCaseSensitive (tc, "id")) && v->valuestring[0])
    cJSON_ReplaceItemInObjectCaseSensitive (slot, "id", cJSON_CreateString (v->valuestring));
  if (cJSON_IsString (v = cJSON_GetObjectItemCaseSensitive (fn, "name")) && v->valuestring[0])
    cJSON_ReplaceItemInObjectCaseSensitive (sfn, "name", cJSON_CreateString (v->valuestring));
  if (cJSON_IsString (v = cJSON_GetObjectItemCaseSensitive (fn, "arguments")))
    {
      args = cJSON_GetObjectItemCaseSensitive (sfn, "arguments");
      size_t old = strlen (args->valuestring), add = strlen (v->valuestring);
      char *joined = malloc (old + add + 1);
      if (joined == NULL)
        return;
      memcpy (joined, args->valuestring, old);
      memcpy (joined + old, v->valuestring, add + 1);
      cJSON_ReplaceItemInObjectCaseSensitive (sfn, "arguments", cJSON_CreateString (joined));
      free (joined);
    }
}

/* A choice's message (non-streaming) or delta (streaming).  */
static void
take_message (struct stream *s, const cJSON *choice, bool delta)
{
  const cJSON *m = cJSON_GetObjectItemCaseSensitive (choice, delta ? "delta" : "message");
  const cJSON *content = cJSON_GetObjectItemCaseSensitive (m, "content");
  const cJSON *tcs = cJSON_GetObjectItemCaseSensitive (m, "tool_calls");
  const cJSON *fr = cJSON_GetObjectItemCaseSensitive (choice, "finish_reason");
  const cJSON *tc;

  if (cJSON_IsString (fr))
    snprintf (s->finish_reason, sizeof s->finish_reason, "%s", fr->valuestring);
  if (cJSON_IsString (content) && content->valuestring[0])
    {
      append (&s->text, &s->text_len, &s->text_cap, content->valuestring,
              strlen (content->valuestring));
      if (delta)
        send_delta (s, content->valuestring);
    }
  if (cJSON_IsArray (tcs))
    cJSON_ArrayForEach (tc, tcs)
    {
      if (delta)
        merge_tool_call (s, tc);
      else
        cJSON_AddItemToArray (s->tool_calls, cJSON_Duplicate (tc, 1));
    }
}

static void
take_chunk (struct stream *s, const cJSON *doc)
{
  const cJSON *choices = cJSON_GetObjectItemCaseSensitive (doc, "choices");
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive (doc, "usage");
  const cJSON *c;

  if (cJSON_IsObject (usage))
    {
      cJSON_Delete (s->usage);
      s->usage = cJSON_Duplicate (usage, 1);
    }
  if (!cJSON_IsArray (choices))
    {
      if (!cJSON_IsObject (usage))
        s->malformed = true;
      return;
    }
  c = cJSON_GetArrayItem (choices, 0);
  if (c)
    take_message (s, c, s->sse);
}

/* Server-sent events: lines "data: {...}", a blank line between events,
 * "data: [DONE]" at the end.  */
static void
sse_line (struct stream *s, char *line)
{
  cJSON *doc;

  if (strncmp (line, "data:", 5) != 0)
    return; /* comments, event:, id:, retry: */
  line += 5;
  while (*line == ' ')
    line++;
  if (strcmp (line, "[DONE]") == 0)
    return;
  doc = cJSON_Parse (line);
  if (doc == NULL)
    {
      s->malformed = true;
      return;
    }
  s->events++;
  take_chunk (s, doc);
  cJSON_Delete (doc);
}

static size_t
on_data (char *ptr, size_t size, size_t nmemb, void *ud)
{
  struct stream *s = ud;
  size_t n = size * nmemb;

  if (s->total < sizeof s->head - 1)
    {
      size_t have = s->total, take = sizeof s->head - 1 - have;
      memcpy (s->head + have, ptr, n < take ? n : take);
      s->head[have + (n < take ? n : take)] = '\0';
    }
  if (s->total == 0 && s->streaming)
    {
      size_t i = 0;
      while (i < n && (ptr[i] == ' ' || ptr[i] == '\r' || ptr[i] == '\n' || ptr[i] == '\t'))
        i++;
      s->sse = i == n || ptr[i] != '{';
    }
  s->total += n;
  if (s->total > MAX_RESPONSE)
    return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
  if (append (&s->raw, &s->raw_len, &s->raw_cap, ptr, n) < 0)
    return 0;
  if (s->sse)
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
  return n;
}

static int
on_progress (void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
  struct stream *s = ud;
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

/* Overwrite every copy of KEY in TEXT with '*'.  */
static void
redact (char *text, const char *key)
{
  size_t n = strlen (key);
  char *p;

  if (text == NULL || n < 4)
    return;
  while ((p = strstr (text, key)) != NULL)
    memset (p, '*', n);
}

static char *
read_api_key (const struct broker_state *b)
{
  const char *env = getenv ("OPENAI_API_KEY");

  if (env && *env)
    return strdup (env);
  return b->o->api_key_reader ? b->o->api_key_reader (b->o->procedure_path) : NULL;
}

static void
stream_reset (struct stream *s)
{
  free (s->raw);
  free (s->text);
  cJSON_Delete (s->tool_calls);
  cJSON_Delete (s->usage);
  s->raw = s->text = NULL;
  s->raw_len = s->raw_cap = s->text_len = s->text_cap = s->total = 0;
  s->tool_calls = cJSON_CreateArray ();
  s->usage = NULL;
  s->malformed = false;
  s->sse = false;
  s->events = 0;
  s->head[0] = '\0';
  s->finish_reason[0] = '\0';
}

/* One HTTP attempt.  Returns the HTTP status, or -1 with CURLcode in *CC.  */
static long
attempt (const struct curl_api *c, struct stream *s, const char *url, const char *body,
         const char *key, double timeout, CURLcode *cc)
{
  CURL *curl = c->easy_init ();
  struct curl_slist *h = NULL;
  char auth[600];
  long status = -1;

  if (curl == NULL)
    {
      *cc = CURLE_OUT_OF_MEMORY;
      return -1;
    }
  h = c->slist_append (h, "Content-Type: application/json");
  h = c->slist_append (h, s->streaming ? "Accept: text/event-stream" : "Accept: application/json");
  if (key)
    {
      snprintf (auth, sizeof auth, "Authorization: Bearer %s", key);
      h = c->slist_append (h, auth);
      explicit_bzero (auth, sizeof auth);
    }
  c->easy_setopt (curl, CURLOPT_URL, url);
  c->easy_setopt (curl, CURLOPT_HTTPHEADER, h);
  c->easy_setopt (curl, CURLOPT_POSTFIELDS, body);
  c->easy_setopt (curl, CURLOPT_WRITEFUNCTION, on_data);
  c->easy_setopt (curl, CURLOPT_WRITEDATA, s);
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
    c->easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
  c->slist_free_all (h);
  c->easy_cleanup (curl);
  return status;
}

static const char *
model_name (const char *model)
{
  return strncmp (model, "openai/", 7) == 0 ? model + 7 : model;
}

static bool
model_allowed (const struct policy *p, const char *model)
{
  if (p == NULL || p->models == NULL)
    return true;
  for (char **m = p->models; *m; m++)
    if (strcmp (*m, model) == 0 || strcmp (*m, model_name (model)) == 0)
      return true;
  return false;
}

/* Count a completed call's tokens.  A server that reports no usage (or no
 * total) is charged CHARGE, the max_tokens the request was sent with: the
 * per-run budget cannot be bypassed by leaving usage out.  */
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

static void
add_tokens (long *sum, long n)
{
  if (n > 0)
    *sum = *sum > LONG_MAX - n ? LONG_MAX : *sum + n;
}

static void
count_usage (struct broker_state *b, const cJSON *usage, long charge)
{
  long pt = token_count (cJSON_GetObjectItemCaseSensitive (usage, "prompt_tokens"));
  long ct = token_count (cJSON_GetObjectItemCaseSensitive (usage, "completion_tokens"));
  long total = token_count (cJSON_GetObjectItemCaseSensitive (usage, "total_tokens"));

  b->out->llm_calls++;
  add_tokens (&b->out->prompt_tokens, pt);
  add_tokens (&b->out->completion_tokens, ct);
  if (total < 0 && pt >= 0 && ct >= 0)
    total = pt + ct;
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

/* The request body: only the fields we allow through.  With a token budget
 * (MAX_TOKENS_CAP > 0), max_tokens is at most what is left of it; *SENT is
 * the max_tokens sent (0 for none).  */
static char *
build_body (const cJSON *params, const char *model, bool stream, long max_tokens_cap, long *sent)
{
  static const char *const passthrough[]
      = { "messages", "tools",           "tool_choice", "temperature",
          "top_p",    "response_format", "stop",        NULL };
  cJSON *body = cJSON_CreateObject ();
  const cJSON *mt = cJSON_GetObjectItemCaseSensitive (params, "max_tokens");
  char *text;

  cJSON_AddStringToObject (body, "model", model_name (model));
  for (const char *const *k = passthrough; *k; k++)
    {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive (params, *k);
      if (v && !cJSON_IsNull (v))
        cJSON_AddItemToObject (body, *k, cJSON_Duplicate (v, 1));
    }
  if (cJSON_IsNumber (mt) || max_tokens_cap > 0)
    {
      double v = cJSON_IsNumber (mt) ? mt->valuedouble : (double) max_tokens_cap;
      if (max_tokens_cap > 0 && !(v <= (double) max_tokens_cap))
        v = (double) max_tokens_cap;
      if (max_tokens_cap > 0 && v < 1)
        v = 1;
      cJSON_AddNumberToObject (body, "max_tokens", v);
      *sent = v > 0 ? (long) v : 0;
    }
  cJSON_AddBoolToObject (body, "stream", stream);
  if (stream)
    {
      cJSON *so = cJSON_CreateObject ();
      cJSON_AddBoolToObject (so, "include_usage", 1);
      cJSON_AddItemToObject (body, "stream_options", so);
    }
  text = cJSON_PrintUnformatted (body);
  cJSON_Delete (body);
  return text;
}

static void
error_from_status (struct broker_state *b, const cJSON *id, long status, const struct stream *s,
                   const char *model, const char *base)
{
  cJSON *doc = s->raw ? cJSON_Parse (s->raw) : NULL;
  const cJSON *e = cJSON_GetObjectItemCaseSensitive (doc, "error");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive (e, "message");
  const char *detail = cJSON_IsString (m)   ? m->valuestring
                       : cJSON_IsString (e) ? e->valuestring
                                            : "";

  if (status == 401 || status == 403)
    broker_reply_error (b, id, "AuthenticationError",
                        "the model server at %s refused the API key (HTTP %ld; set OPENAI_API_KEY "
                        "on the host) %.200s",
                        base, status, detail);
  else if (status == 404)
    broker_reply_error (b, id, "UnknownModel", "model '%s' is not known to %s (HTTP 404) %.200s",
                        model, base, detail);
  else
    broker_reply_error (b, id, "ModelError", "the model server at %s answered HTTP %ld %.200s",
                        base, status, detail);
  cJSON_Delete (doc);
}

static void
reply_done (struct stream *s, const char *model)
{
  cJSON *data = cJSON_CreateObject ();
  cJSON *usage = s->usage ? cJSON_Duplicate (s->usage, 1) : cJSON_CreateObject ();

  if (!s->sse)
    {
      /* An empty body, or JSON that is not a completion, is malformed.  */
      cJSON *doc = s->raw ? cJSON_Parse (s->raw) : NULL;
      if (cJSON_IsArray (cJSON_GetObjectItemCaseSensitive (doc, "choices")))
        take_chunk (s, doc);
      else
        s->malformed = true;
      cJSON_Delete (doc);
      cJSON_Delete (usage);
      usage = s->usage ? cJSON_Duplicate (s->usage, 1) : cJSON_CreateObject ();
    }
  /* A streamed answer with no "data: {...}" event in it (an HTML error
   * page, a truncated body) is not a completion.  */
  if (s->sse && s->events == 0)
    s->malformed = true;
  cJSON_AddStringToObject (data, "text", s->text ? s->text : "");
  if (cJSON_GetArraySize (s->tool_calls) > 0)
    cJSON_AddItemToObject (data, "tool_calls", cJSON_Duplicate (s->tool_calls, 1));
  cJSON_AddItemToObject (data, "usage", usage);
  cJSON_AddStringToObject (data, "model", model);
  if (s->finish_reason[0])
    cJSON_AddStringToObject (data, "finish_reason", s->finish_reason);
  if (s->malformed && s->text_len == 0 && cJSON_GetArraySize (s->tool_calls) == 0)
    {
      cJSON_Delete (data);
      broker_reply_error (s->b, s->id, "MalformedResponse",
                          "the model server's response is not an OpenAI chat completion: %.200s",
                          s->head);
      return;
    }
  broker_reply (s->b, s->id, "done", data);
}

void
broker_llm_chat (struct broker_state *b, const cJSON *id, const cJSON *params)
{
  const cJSON *model = cJSON_GetObjectItemCaseSensitive (params, "model");
  const cJSON *provider = cJSON_GetObjectItemCaseSensitive (params, "provider");
  const cJSON *messages = cJSON_GetObjectItemCaseSensitive (params, "messages");
  const cJSON *stream = cJSON_GetObjectItemCaseSensitive (params, "stream");
  const cJSON *agent = cJSON_GetObjectItemCaseSensitive (params, "agent_name");
  const struct policy *p = b->o->policy;
  struct stream s = { .b = b, .id = id };
  char url[1200], *body = NULL, *key = NULL;
  const char *base = b->o->llm_base_url;
  long status = -1;
  CURLcode cc = CURLE_OK;
  const struct curl_api *c;
  char why[300];
  long budget, charge = 0;

  if (!cJSON_IsString (model) || !cJSON_IsArray (messages))
    return broker_violation (b, id,
                             "llm.chat needs params.model (a string) and params.messages (a list)");
  if (provider && (!cJSON_IsString (provider) || strcmp (provider->valuestring, "openai") != 0))
    return (void) broker_reply_error (
        b, id, "UnsupportedProvider",
        "provider '%s' is not supported (only openai-compatible servers)",
        cJSON_IsString (provider) ? provider->valuestring : "?");
  if (strchr (model->valuestring, '/') && strncmp (model->valuestring, "openai/", 7) != 0)
    return (void) broker_reply_error (b, id, "UnsupportedProvider",
                                      "model '%s': only openai/<model> is supported",
                                      model->valuestring);
  if (!model_allowed (p, model->valuestring))
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
  s.streaming = !cJSON_IsFalse (stream);
  s.agent = cJSON_IsString (agent) ? agent->valuestring : NULL;
  snprintf (url, sizeof url, "%s/chat/completions", base);
  /* Each request may use at most what is left of the run's budget.  */
  budget = p && p->max_tokens > 0 ? p->max_tokens - b->tokens_used : 0;
  body = build_body (params, model->valuestring, s.streaming, budget, &charge);
  key = read_api_key (b);
  if (key == NULL && strstr (base, "api.openai.com") != NULL)
    {
      cJSON_free (body);
      return (void) broker_reply_error (b, id, "AuthenticationError",
                                        "no API key for %s: set OPENAI_API_KEY on the host or "
                                        "openai_api_key in ~/.tactus/config.yml (for a local "
                                        "OpenAI-compatible server set OPENAI_BASE_URL)",
                                        base);
    }
  for (int i = 0; i < MAX_ATTEMPTS; i++)
    {
      stream_reset (&s);
      status = attempt (c, &s, url, body, key, b->o->llm_timeout, &cc);
      if (s.aborted)
        break;
      if (status == 429 || (status >= 500 && status < 600) || cc == CURLE_COULDNT_CONNECT
          || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING)
        {
          if (i + 1 < MAX_ATTEMPTS && s.text_len == 0)
            {
              trace_note (b->o->trace, "log", "WARNING", "model call failed (%s); retrying",
                          status > 0 ? "HTTP error" : c->easy_strerror (cc));
              usleep ((useconds_t) (250000u << i));
              continue;
            }
        }
      break;
    }
  if (key)
    {
      /* Error messages quote the body; a server that echoes the key
       * (a proxy's "invalid key sk-...") must not carry it into the
       * sandbox.  */
      redact (s.raw, key);
      redact (s.head, key);
      explicit_bzero (key, strlen (key));
      free (key);
    }
  cJSON_free (body);
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
  else if (status < 0 && cc == CURLE_WRITE_ERROR && s.total > MAX_RESPONSE)
    broker_reply_error (b, id, "ResponseTooLarge",
                        "the model server at %s sent more than 8 MiB; the call was stopped", base);
  else if (status < 0)
    broker_reply_error (b, id, cc == CURLE_OPERATION_TIMEDOUT ? "Timeout" : "ConnectionError",
                        "cannot complete the model call to %s: %s", base, c->easy_strerror (cc));
  else if (status != 200)
    error_from_status (b, id, status, &s, model->valuestring, base);
  else
    {
      reply_done (&s, model->valuestring); /* parses a non-streamed body, with its usage */
      count_usage (b, s.usage, charge);
    }
  stream_reset (&s);
  cJSON_Delete (s.tool_calls);
}
