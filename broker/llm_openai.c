/* OpenAI chat completions (POST BASE/chat/completions), which every
 * OpenAI-compatible server speaks too (Ollama, vLLM, llama.cpp, LM
 * Studio...): the VM's own dialect, so the request is the VM's params with
 * only the allowed fields, and the answer is read as sent.
 *
 * Stream: "data: {chat.completion.chunk}" events, "data: [DONE]" at the
 * end; tool calls come in pieces keyed by their index (id and name once,
 * arguments in pieces); with stream_options.include_usage the last chunk
 * carries the usage and no choices.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/llm.h"

static int
build (const struct llm_call *c, const struct llm_creds *cr, struct llm_http *h, char *why,
       size_t whysize)
{
  static const char *const passthrough[]
      = { "messages", "tools",           "tool_choice", "temperature",
          "top_p",    "response_format", "stop",        NULL };
  cJSON *body = cJSON_CreateObject ();

  (void) why, (void) whysize;
  cJSON_AddStringToObject (body, "model", c->model);
  for (const char *const *k = passthrough; *k; k++)
    {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive (c->params, *k);
      if (v && !cJSON_IsNull (v))
        cJSON_AddItemToObject (body, *k, cJSON_Duplicate (v, 1));
    }
  if (c->max_tokens > 0)
    {
      cJSON_AddNumberToObject (body, "max_tokens", (double) c->max_tokens);
      h->sent_max_tokens = c->max_tokens;
    }
  cJSON_AddBoolToObject (body, "stream", c->stream);
  if (c->stream)
    {
      cJSON *so = cJSON_AddObjectToObject (body, "stream_options");
      cJSON_AddBoolToObject (so, "include_usage", 1);
    }
  h->body = cJSON_PrintUnformatted (body);
  cJSON_Delete (body);
  snprintf (h->url, sizeof h->url, "%s/chat/completions", c->base);
  if (cr->key && llm_http_header (h, "Authorization: Bearer %s", cr->key) < 0)
    return -1;
  return h->body ? 0 : -1;
}

static void
take_usage (struct llm_stream *s, const cJSON *usage)
{
  const cJSON *cost = cJSON_GetObjectItemCaseSensitive (usage, "cost");

  llm_usage (s, cJSON_GetObjectItemCaseSensitive (usage, "prompt_tokens"),
             cJSON_GetObjectItemCaseSensitive (usage, "completion_tokens"),
             cJSON_GetObjectItemCaseSensitive (usage, "total_tokens"));
  /* OpenRouter and LiteLLM proxies report the call's cost.  */
  if (cJSON_IsNumber (cost) && cost->valuedouble >= 0 && cost->valuedouble < 1e9)
    s->cost = cost->valuedouble;
}

/* One tool call, whole (a completion) or a piece of one (a chunk).  */
static void
take_tool_call (struct llm_stream *s, const cJSON *tc, int position, bool piece)
{
  const cJSON *idx = cJSON_GetObjectItemCaseSensitive (tc, "index");
  const cJSON *fn = cJSON_GetObjectItemCaseSensitive (tc, "function");
  const cJSON *v;
  long key = position;
  struct llm_tool *t;

  if (piece && cJSON_IsNumber (idx))
    {
      if (!(idx->valuedouble >= 0 && idx->valuedouble < 64))
        {
          s->malformed = true;
          return;
        }
      key = (long) idx->valuedouble;
    }
  t = llm_tool (s, key);
  if (t == NULL)
    return;
  if (cJSON_IsString (v = cJSON_GetObjectItemCaseSensitive (tc, "id")))
    llm_tool_set_id (t, v->valuestring);
  if (cJSON_IsString (v = cJSON_GetObjectItemCaseSensitive (fn, "name")))
    llm_tool_set_name (t, v->valuestring);
  v = cJSON_GetObjectItemCaseSensitive (fn, "arguments");
  if (cJSON_IsString (v))
    llm_tool_args (s, t, v->valuestring, strlen (v->valuestring));
  else if (cJSON_IsObject (v))
    llm_tool_args_json (s, t, v);
}

/* A choice's message (a completion) or delta (a chunk).  */
static void
take_choice (struct llm_stream *s, const cJSON *choice, bool piece)
{
  const cJSON *m = cJSON_GetObjectItemCaseSensitive (choice, piece ? "delta" : "message");
  const cJSON *content = cJSON_GetObjectItemCaseSensitive (m, "content");
  const cJSON *tcs = cJSON_GetObjectItemCaseSensitive (m, "tool_calls");
  const cJSON *fr = cJSON_GetObjectItemCaseSensitive (choice, "finish_reason");
  const cJSON *tc;
  int i = 0;

  if (cJSON_IsString (content))
    llm_text (s, content->valuestring, strlen (content->valuestring));
  if (cJSON_IsArray (tcs))
    cJSON_ArrayForEach (tc, tcs) take_tool_call (s, tc, i++, piece);
  if (cJSON_IsString (fr))
    {
      llm_finish (s, fr->valuestring);
      if (piece)
        s->completed = true;
    }
}

static void
take_doc (struct llm_stream *s, const cJSON *doc, bool piece)
{
  const cJSON *choices = cJSON_GetObjectItemCaseSensitive (doc, "choices");
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive (doc, "usage");
  const cJSON *err = cJSON_GetObjectItemCaseSensitive (doc, "error");

  if (cJSON_IsObject (err))
    {
      const cJSON *m = cJSON_GetObjectItemCaseSensitive (err, "message");
      const cJSON *t = cJSON_GetObjectItemCaseSensitive (err, "type");
      llm_stream_error (s, cJSON_IsString (t) ? t->valuestring : "error",
                        cJSON_IsString (m) ? m->valuestring : "", false);
      return;
    }
  if (cJSON_IsObject (usage))
    take_usage (s, usage);
  if (!cJSON_IsArray (choices))
    {
      if (!cJSON_IsObject (usage))
        s->malformed = true;
      return;
    }
  if (cJSON_GetArraySize (choices) > 0)
    take_choice (s, cJSON_GetArrayItem (choices, 0), piece);
  else if (!piece)
    s->malformed = true; /* a completion without a choice */
}

static void
event (struct llm_stream *s, const char *name, const char *data, size_t len)
{
  cJSON *doc;

  (void) name;
  if (len == 6 && memcmp (data, "[DONE]", 6) == 0)
    {
      s->completed = true;
      return;
    }
  doc = cJSON_ParseWithLength (data, len);
  if (!cJSON_IsObject (doc))
    s->malformed = true;
  else
    {
      s->events++;
      take_doc (s, doc, true);
    }
  cJSON_Delete (doc);
}

static void
body (struct llm_stream *s, const cJSON *doc)
{
  take_doc (s, doc, false);
}

const struct llm_provider llm_openai = {
  .name = "openai",
  .answer = "an OpenAI chat completion",
  .key_env = { "OPENAI_API_KEY" },
  .key_config = "openai_api_key",
  .default_base = "https://api.openai.com/v1",
  .framing = LLM_SSE,
  .build = build,
  .event = event,
  .body = body,
};
