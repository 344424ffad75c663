/* Anthropic's Messages API (POST BASE/v1/messages, x-api-key,
 * anthropic-version: 2023-06-01).
 *
 * Request: system (the system text), messages alternating user and
 * assistant, each a list of content blocks: text, tool_use {id, name,
 * input} in the assistant's turn, tool_result {tool_use_id, content} in
 * the user's turn that follows; tools {name, description, input_schema};
 * tool_choice {type: auto|any|tool|none}; max_tokens is required.
 *
 * Answer: content blocks (text, tool_use), stop_reason, usage
 * {input_tokens, output_tokens, cache_*_input_tokens}.  Streamed as named
 * events: message_start, content_block_start / delta (text_delta,
 * input_json_delta) / stop, message_delta (stop_reason, usage), ping,
 * message_stop, and error (overloaded_error...).  An overloaded server
 * answers HTTP 529.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/llm.h"

#define MAX_TOOLS 256
#define DEFAULT_MAX_TOKENS 4096

static void
add_text (cJSON *blocks, const char *text)
{
  cJSON *b = cJSON_CreateObject ();
  cJSON_AddStringToObject (b, "type", "text");
  cJSON_AddStringToObject (b, "text", text);
  cJSON_AddItemToArray (blocks, b);
}

static void
add_message (cJSON *messages, const struct llm_msg *m)
{
  const cJSON *c;
  cJSON *blocks, *b;

  if (strcmp (m->role, "tool") == 0)
    {
      blocks = llm_turn_items (messages, "user", "content");
      b = cJSON_CreateObject ();
      cJSON_AddStringToObject (b, "type", "tool_result");
      cJSON_AddStringToObject (b, "tool_use_id", m->tool_call_id);
      cJSON_AddStringToObject (b, "content", m->text ? m->text : "");
      cJSON_AddItemToArray (blocks, b);
      return;
    }
  /* Empty text blocks are refused by the API.  */
  if ((m->text == NULL || m->text[0] == '\0') && m->tool_calls == NULL)
    return;
  blocks = llm_turn_items (messages, m->role, "content");
  if (m->text && m->text[0])
    add_text (blocks, m->text);
  cJSON_ArrayForEach (c, m->tool_calls)
  {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive (c, "id");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive (
        cJSON_GetObjectItemCaseSensitive (c, "function"), "name");
    b = cJSON_CreateObject ();
    cJSON_AddStringToObject (b, "type", "tool_use");
    cJSON_AddStringToObject (b, "id", cJSON_IsString (id) ? id->valuestring : "");
    cJSON_AddStringToObject (b, "name", cJSON_IsString (name) ? name->valuestring : "");
    cJSON_AddItemToObject (b, "input", llm_args_object (c));
    cJSON_AddItemToArray (blocks, b);
  }
}

static int
build (const struct llm_call *c, const struct llm_creds *cr, struct llm_http *h, char *why,
       size_t whysize)
{
  const cJSON *fns[MAX_TOOLS];
  struct llm_msgs msgs;
  cJSON *body, *messages, *stop;
  const char *choice, *fname;
  int nf;

  nf = llm_tool_functions (c->params, fns, MAX_TOOLS, why, whysize);
  if (nf < 0
      || llm_msgs_parse (cJSON_GetObjectItemCaseSensitive (c->params, "messages"), &msgs, why,
                         whysize)
             < 0)
    {
      if (nf >= 0)
        llm_msgs_free (&msgs);
      return -1;
    }
  body = cJSON_CreateObject ();
  cJSON_AddStringToObject (body, "model", c->model);
  h->sent_max_tokens = c->max_tokens > 0 ? c->max_tokens : DEFAULT_MAX_TOKENS;
  cJSON_AddNumberToObject (body, "max_tokens", (double) h->sent_max_tokens);
  if (msgs.system)
    cJSON_AddStringToObject (body, "system", msgs.system);
  messages = cJSON_AddArrayToObject (body, "messages");
  for (int i = 0; i < msgs.n; i++)
    add_message (messages, &msgs.m[i]);
  if (nf > 0)
    {
      cJSON *tools = cJSON_AddArrayToObject (body, "tools"), *tc;
      for (int i = 0; i < nf; i++)
        {
          const cJSON *d = cJSON_GetObjectItemCaseSensitive (fns[i], "description");
          const cJSON *prm = cJSON_GetObjectItemCaseSensitive (fns[i], "parameters");
          cJSON *t = cJSON_CreateObject ();
          cJSON_AddStringToObject (t, "name",
                                   cJSON_GetObjectItemCaseSensitive (fns[i], "name")->valuestring);
          if (cJSON_IsString (d))
            cJSON_AddStringToObject (t, "description", d->valuestring);
          cJSON_AddItemToObject (t, "input_schema",
                                 cJSON_IsObject (prm) ? cJSON_Duplicate (prm, 1)
                                                      : cJSON_Parse ("{\"type\":\"object\"}"));
          cJSON_AddItemToArray (tools, t);
        }
      choice = llm_tool_choice (c->params, &fname);
      tc = cJSON_AddObjectToObject (body, "tool_choice");
      cJSON_AddStringToObject (tc, "type",
                               fname                              ? "tool"
                               : strcmp (choice, "required") == 0 ? "any"
                                                                  : choice);
      if (fname)
        cJSON_AddStringToObject (tc, "name", fname);
    }
  llm_copy_number (body, "temperature", c->params, "temperature");
  llm_copy_number (body, "top_p", c->params, "top_p");
  if ((stop = llm_stop_list (c->params)) != NULL)
    cJSON_AddItemToObject (body, "stop_sequences", stop);
  cJSON_AddBoolToObject (body, "stream", c->stream);
  h->body = cJSON_PrintUnformatted (body);
  cJSON_Delete (body);
  llm_msgs_free (&msgs);
  snprintf (h->url, sizeof h->url, "%s/v1/messages", c->base);
  if (llm_http_header (h, "anthropic-version: 2023-06-01") < 0
      || (cr->key && llm_http_header (h, "x-api-key: %s", cr->key) < 0))
    return -1;
  return h->body ? 0 : -1;
}

static const char *
finish_reason (const char *stop)
{
  if (strcmp (stop, "end_turn") == 0 || strcmp (stop, "stop_sequence") == 0)
    return "stop";
  if (strcmp (stop, "tool_use") == 0)
    return "tool_calls";
  if (strcmp (stop, "max_tokens") == 0)
    return "length";
  return stop;
}

/* Input tokens are the uncached ones plus those read from or written to
 * the prompt cache.  */
static void
take_usage (struct llm_stream *s, const cJSON *u)
{
  static const char *const input[]
      = { "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens" };
  double in = 0;
  bool any = false;

  if (!cJSON_IsObject (u))
    return;
  for (size_t i = 0; i < sizeof input / sizeof input[0]; i++)
    {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive (u, input[i]);
      if (cJSON_IsNumber (v) && v->valuedouble >= 0)
        in += v->valuedouble, any = true;
    }
  if (any)
    {
      cJSON *n = cJSON_CreateNumber (in);
      llm_usage (s, n, NULL, NULL);
      cJSON_Delete (n);
    }
  llm_usage (s, NULL, cJSON_GetObjectItemCaseSensitive (u, "output_tokens"), NULL);
}

static long
block_index (const cJSON *ev)
{
  const cJSON *i = cJSON_GetObjectItemCaseSensitive (ev, "index");
  return cJSON_IsNumber (i) && i->valuedouble >= 0 && i->valuedouble < 1e6 ? (long) i->valuedouble
                                                                           : -1;
}

/* A content block, whole (a message) or started (a stream).  */
static void
take_block (struct llm_stream *s, long key, const cJSON *b)
{
  const cJSON *type = cJSON_GetObjectItemCaseSensitive (b, "type");
  const cJSON *v;

  if (!cJSON_IsString (type))
    return;
  if (strcmp (type->valuestring, "text") == 0
      && cJSON_IsString (v = cJSON_GetObjectItemCaseSensitive (b, "text")))
    llm_text (s, v->valuestring, strlen (v->valuestring));
  else if (strcmp (type->valuestring, "tool_use") == 0)
    {
      struct llm_tool *t = llm_tool (s, key);
      const cJSON *input = cJSON_GetObjectItemCaseSensitive (b, "input");
      if (cJSON_IsString (v = cJSON_GetObjectItemCaseSensitive (b, "id")))
        llm_tool_set_id (t, v->valuestring);
      if (cJSON_IsString (v = cJSON_GetObjectItemCaseSensitive (b, "name")))
        llm_tool_set_name (t, v->valuestring);
      /* A stream starts it with input {} and sends the JSON in pieces.  */
      if (cJSON_IsObject (input) && cJSON_GetArraySize (input) > 0)
        llm_tool_args_json (s, t, input);
    }
}

static void
event (struct llm_stream *s, const char *name, const char *data, size_t len)
{
  cJSON *doc = cJSON_ParseWithLength (data, len);
  const cJSON *type = cJSON_GetObjectItemCaseSensitive (doc, "type");
  const char *t;

  (void) name;
  if (!cJSON_IsObject (doc) || !cJSON_IsString (type))
    {
      s->malformed = true;
      cJSON_Delete (doc);
      return;
    }
  s->events++;
  t = type->valuestring;
  if (strcmp (t, "message_start") == 0)
    take_usage (s, cJSON_GetObjectItemCaseSensitive (
                       cJSON_GetObjectItemCaseSensitive (doc, "message"), "usage"));
  else if (strcmp (t, "content_block_start") == 0)
    take_block (s, block_index (doc), cJSON_GetObjectItemCaseSensitive (doc, "content_block"));
  else if (strcmp (t, "content_block_delta") == 0)
    {
      const cJSON *d = cJSON_GetObjectItemCaseSensitive (doc, "delta");
      const cJSON *dt = cJSON_GetObjectItemCaseSensitive (d, "type");
      const cJSON *v;
      if (!cJSON_IsString (dt))
        s->malformed = true;
      else if (strcmp (dt->valuestring, "text_delta") == 0
               && cJSON_IsString (v = cJSON_GetObjectItemCaseSensitive (d, "text")))
        llm_text (s, v->valuestring, strlen (v->valuestring));
      else if (strcmp (dt->valuestring, "input_json_delta") == 0
               && cJSON_IsString (v = cJSON_GetObjectItemCaseSensitive (d, "partial_json")))
        llm_tool_args (s, llm_tool (s, block_index (doc)), v->valuestring, strlen (v->valuestring));
      /* thinking_delta, signature_delta...: not part of the answer.  */
    }
  else if (strcmp (t, "message_delta") == 0)
    {
      const cJSON *stop = cJSON_GetObjectItemCaseSensitive (
          cJSON_GetObjectItemCaseSensitive (doc, "delta"), "stop_reason");
      if (cJSON_IsString (stop))
        llm_finish (s, finish_reason (stop->valuestring));
      take_usage (s, cJSON_GetObjectItemCaseSensitive (doc, "usage"));
    }
  else if (strcmp (t, "message_stop") == 0)
    s->completed = true;
  else if (strcmp (t, "error") == 0)
    {
      const cJSON *e = cJSON_GetObjectItemCaseSensitive (doc, "error");
      const cJSON *et = cJSON_GetObjectItemCaseSensitive (e, "type");
      const cJSON *m = cJSON_GetObjectItemCaseSensitive (e, "message");
      const char *ets = cJSON_IsString (et) ? et->valuestring : "error";
      llm_stream_error (s, ets, cJSON_IsString (m) ? m->valuestring : "",
                        strcmp (ets, "overloaded_error") == 0
                            || strcmp (ets, "rate_limit_error") == 0
                            || strcmp (ets, "api_error") == 0);
    }
  /* ping, content_block_stop: nothing to take.  */
  cJSON_Delete (doc);
}

static void
body (struct llm_stream *s, const cJSON *doc)
{
  const cJSON *content = cJSON_GetObjectItemCaseSensitive (doc, "content");
  const cJSON *stop = cJSON_GetObjectItemCaseSensitive (doc, "stop_reason");
  const cJSON *b;
  long i = 0;

  if (!cJSON_IsArray (content))
    {
      s->malformed = true;
      return;
    }
  cJSON_ArrayForEach (b, content) take_block (s, i++, b);
  if (cJSON_IsString (stop))
    llm_finish (s, finish_reason (stop->valuestring));
  take_usage (s, cJSON_GetObjectItemCaseSensitive (doc, "usage"));
}

const struct llm_provider llm_anthropic = {
  .name = "anthropic",
  .answer = "an Anthropic Messages answer",
  .key_env = { "ANTHROPIC_API_KEY" },
  .key_config = "anthropic_api_key",
  .default_base = "https://api.anthropic.com",
  .framing = LLM_SSE,
  .build = build,
  .event = event,
  .body = body,
};
