/* OpenAI's Responses API (POST BASE/responses), Tactus's model_type =
 * "responses" for reasoning models.
 *
 * Request: instructions (the system text), input items ({role, content}
 * messages, function_call items for the assistant's earlier calls,
 * function_call_output items for their results), function tools
 * ({type: function, name, description, parameters}), tool_choice,
 * max_output_tokens; store: false (nothing is kept on OpenAI's side).
 *
 * Answer: output items (message items whose content has output_text
 * parts; function_call items {call_id, name, arguments}) and usage
 * {input_tokens, output_tokens, total_tokens}.  Streamed as typed events:
 * response.output_text.delta, response.output_item.added/done,
 * response.function_call_arguments.delta/done, response.completed /
 * incomplete / failed, and error.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/llm.h"

#define MAX_TOOLS 256

static void
add_input (cJSON *input, const struct llm_msg *m)
{
  const cJSON *c;

  if (strcmp (m->role, "tool") == 0)
    {
      cJSON *it = cJSON_CreateObject ();
      cJSON_AddStringToObject (it, "type", "function_call_output");
      cJSON_AddStringToObject (it, "call_id", m->tool_call_id);
      cJSON_AddStringToObject (it, "output", m->text ? m->text : "");
      cJSON_AddItemToArray (input, it);
      return;
    }
  if (m->text && (m->text[0] || m->tool_calls == NULL))
    {
      cJSON *it = cJSON_CreateObject ();
      cJSON_AddStringToObject (it, "role", m->role);
      cJSON_AddStringToObject (it, "content", m->text);
      cJSON_AddItemToArray (input, it);
    }
  cJSON_ArrayForEach (c, m->tool_calls)
  {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive (c, "id");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive (c, "function");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive (fn, "name");
    cJSON *args = llm_args_object (c);
    char *text = cJSON_PrintUnformatted (args);
    cJSON *it = cJSON_CreateObject ();
    cJSON_AddStringToObject (it, "type", "function_call");
    cJSON_AddStringToObject (it, "call_id", cJSON_IsString (id) ? id->valuestring : "");
    cJSON_AddStringToObject (it, "name", cJSON_IsString (name) ? name->valuestring : "");
    cJSON_AddStringToObject (it, "arguments", text ? text : "{}");
    cJSON_AddItemToArray (input, it);
    cJSON_free (text);
    cJSON_Delete (args);
  }
}

static int
build (const struct llm_call *c, const struct llm_creds *cr, struct llm_http *h, char *why,
       size_t whysize)
{
  const cJSON *fns[MAX_TOOLS];
  struct llm_msgs msgs;
  cJSON *body, *input;
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
  if (msgs.system)
    cJSON_AddStringToObject (body, "instructions", msgs.system);
  input = cJSON_AddArrayToObject (body, "input");
  for (int i = 0; i < msgs.n; i++)
    add_input (input, &msgs.m[i]);
  if (nf > 0)
    {
      cJSON *tools = cJSON_AddArrayToObject (body, "tools");
      for (int i = 0; i < nf; i++)
        {
          const cJSON *d = cJSON_GetObjectItemCaseSensitive (fns[i], "description");
          const cJSON *prm = cJSON_GetObjectItemCaseSensitive (fns[i], "parameters");
          cJSON *t = cJSON_CreateObject ();
          cJSON_AddStringToObject (t, "type", "function");
          cJSON_AddStringToObject (t, "name",
                                   cJSON_GetObjectItemCaseSensitive (fns[i], "name")->valuestring);
          if (cJSON_IsString (d))
            cJSON_AddStringToObject (t, "description", d->valuestring);
          cJSON_AddItemToObject (t, "parameters",
                                 cJSON_IsObject (prm) ? cJSON_Duplicate (prm, 1)
                                                      : cJSON_CreateObject ());
          cJSON_AddItemToArray (tools, t);
        }
      choice = llm_tool_choice (c->params, &fname);
      if (fname)
        {
          cJSON *tc = cJSON_AddObjectToObject (body, "tool_choice");
          cJSON_AddStringToObject (tc, "type", "function");
          cJSON_AddStringToObject (tc, "name", fname);
        }
      else
        cJSON_AddStringToObject (body, "tool_choice", choice);
    }
  llm_copy_number (body, "temperature", c->params, "temperature");
  llm_copy_number (body, "top_p", c->params, "top_p");
  if (c->max_tokens > 0)
    {
      cJSON_AddNumberToObject (body, "max_output_tokens", (double) c->max_tokens);
      h->sent_max_tokens = c->max_tokens;
    }
  cJSON_AddBoolToObject (body, "stream", c->stream);
  cJSON_AddBoolToObject (body, "store", 0);
  h->body = cJSON_PrintUnformatted (body);
  cJSON_Delete (body);
  llm_msgs_free (&msgs);
  snprintf (h->url, sizeof h->url, "%s/responses", c->base);
  if (cr->key && llm_http_header (h, "Authorization: Bearer %s", cr->key) < 0)
    return -1;
  return h->body ? 0 : -1;
}

static long
output_index (const cJSON *ev)
{
  const cJSON *i = cJSON_GetObjectItemCaseSensitive (ev, "output_index");
  return cJSON_IsNumber (i) && i->valuedouble >= 0 && i->valuedouble < 1e6 ? (long) i->valuedouble
                                                                           : -1;
}

/* A function_call output item, whole or announced.  */
static void
take_call (struct llm_stream *s, long key, const cJSON *item)
{
  const cJSON *id = cJSON_GetObjectItemCaseSensitive (item, "call_id");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive (item, "name");
  const cJSON *args = cJSON_GetObjectItemCaseSensitive (item, "arguments");
  struct llm_tool *t = llm_tool (s, key);

  if (t == NULL)
    return;
  if (cJSON_IsString (id))
    llm_tool_set_id (t, id->valuestring);
  if (cJSON_IsString (name))
    llm_tool_set_name (t, name->valuestring);
  if (cJSON_IsString (args) && args->valuestring[0])
    {
      t->args_len = 0; /* the whole text replaces the pieces */
      llm_tool_args (s, t, args->valuestring, strlen (args->valuestring));
    }
}

static void
take_usage (struct llm_stream *s, const cJSON *resp)
{
  const cJSON *u = cJSON_GetObjectItemCaseSensitive (resp, "usage");
  llm_usage (s, cJSON_GetObjectItemCaseSensitive (u, "input_tokens"),
             cJSON_GetObjectItemCaseSensitive (u, "output_tokens"),
             cJSON_GetObjectItemCaseSensitive (u, "total_tokens"));
}

static void
take_status (struct llm_stream *s, const cJSON *resp)
{
  const cJSON *st = cJSON_GetObjectItemCaseSensitive (resp, "status");
  const cJSON *err = cJSON_GetObjectItemCaseSensitive (resp, "error");

  if (cJSON_IsString (st) && strcmp (st->valuestring, "failed") == 0)
    {
      const cJSON *m = cJSON_GetObjectItemCaseSensitive (err, "message");
      const cJSON *code = cJSON_GetObjectItemCaseSensitive (err, "code");
      bool again = cJSON_IsString (code)
                   && (strcmp (code->valuestring, "server_error") == 0
                       || strcmp (code->valuestring, "rate_limit_exceeded") == 0);
      llm_stream_error (s, cJSON_IsString (code) ? code->valuestring : "response.failed",
                        cJSON_IsString (m) ? m->valuestring : "", again);
    }
  else if (cJSON_IsString (st) && strcmp (st->valuestring, "incomplete") == 0)
    llm_finish (s, "length");
  else
    llm_finish (s, s->n_tools > 0 ? "tool_calls" : "stop");
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
  if (strcmp (t, "response.output_text.delta") == 0)
    {
      const cJSON *d = cJSON_GetObjectItemCaseSensitive (doc, "delta");
      if (cJSON_IsString (d))
        llm_text (s, d->valuestring, strlen (d->valuestring));
    }
  else if (strcmp (t, "response.output_item.added") == 0
           || strcmp (t, "response.output_item.done") == 0)
    {
      const cJSON *item = cJSON_GetObjectItemCaseSensitive (doc, "item");
      const cJSON *it = cJSON_GetObjectItemCaseSensitive (item, "type");
      if (cJSON_IsString (it) && strcmp (it->valuestring, "function_call") == 0)
        take_call (s, output_index (doc), item);
    }
  else if (strcmp (t, "response.function_call_arguments.delta") == 0)
    {
      const cJSON *d = cJSON_GetObjectItemCaseSensitive (doc, "delta");
      if (cJSON_IsString (d))
        llm_tool_args (s, llm_tool (s, output_index (doc)), d->valuestring,
                       strlen (d->valuestring));
    }
  else if (strcmp (t, "response.function_call_arguments.done") == 0)
    take_call (s, output_index (doc), doc);
  else if (strcmp (t, "response.completed") == 0 || strcmp (t, "response.incomplete") == 0
           || strcmp (t, "response.failed") == 0)
    {
      const cJSON *resp = cJSON_GetObjectItemCaseSensitive (doc, "response");
      take_usage (s, resp);
      take_status (s, resp);
      s->completed = true;
    }
  else if (strcmp (t, "error") == 0)
    {
      const cJSON *m = cJSON_GetObjectItemCaseSensitive (doc, "message");
      const cJSON *code = cJSON_GetObjectItemCaseSensitive (doc, "code");
      llm_stream_error (s, cJSON_IsString (code) ? code->valuestring : "error",
                        cJSON_IsString (m) ? m->valuestring : "", false);
    }
  cJSON_Delete (doc);
}

static void
body (struct llm_stream *s, const cJSON *doc)
{
  const cJSON *output = cJSON_GetObjectItemCaseSensitive (doc, "output");
  const cJSON *item;
  long i = 0;

  if (!cJSON_IsArray (output))
    {
      s->malformed = true;
      return;
    }
  cJSON_ArrayForEach (item, output)
  {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive (item, "type");
    if (cJSON_IsString (type) && strcmp (type->valuestring, "message") == 0)
      {
        const cJSON *part;
        cJSON_ArrayForEach (part, cJSON_GetObjectItemCaseSensitive (item, "content"))
        {
          const cJSON *pt = cJSON_GetObjectItemCaseSensitive (part, "type");
          const cJSON *text = cJSON_GetObjectItemCaseSensitive (part, "text");
          if (cJSON_IsString (pt) && strcmp (pt->valuestring, "output_text") == 0
              && cJSON_IsString (text))
            llm_text (s, text->valuestring, strlen (text->valuestring));
        }
      }
    else if (cJSON_IsString (type) && strcmp (type->valuestring, "function_call") == 0)
      take_call (s, i, item);
    i++;
  }
  take_usage (s, doc);
  take_status (s, doc);
}

const struct llm_provider llm_responses = {
  .name = "openai",
  .answer = "an OpenAI Responses answer",
  .key_env = { "OPENAI_API_KEY" },
  .key_config = "openai_api_key",
  .default_base = "https://api.openai.com/v1",
  .framing = LLM_SSE,
  .build = build,
  .event = event,
  .body = body,
};
