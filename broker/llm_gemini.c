/* Google's Gemini API (Generative Language API): POST
 * BASE/v1beta/models/MODEL:generateContent, or :streamGenerateContent?alt=sse
 * for a stream; the key in x-goog-api-key.  Model strings google/...,
 * gemini/... and google-gla/... (pydantic-ai's name for this API).
 *
 * Request: contents [{role: user|model, parts}], parts being {text},
 * {functionCall: {name, args}} in the model's turns and
 * {functionResponse: {name, response}} in the user's; systemInstruction;
 * tools [{functionDeclarations: [{name, description, parameters}]}] where
 * parameters is Gemini's OpenAPI subset of JSON Schema (other keywords are
 * refused by the API, so they are dropped); toolConfig
 * {functionCallingConfig: {mode, allowedFunctionNames}}; generationConfig.
 *
 * Answer: candidates[0].content.parts (text, functionCall), finishReason,
 * usageMetadata.  A stream is a series of such responses as server-sent
 * events; the last carries the finishReason.  Function calls may have no
 * id: they get call_N.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/llm.h"

#define MAX_TOOLS 256
#define MAX_SCHEMA_DEPTH 32

/* The part of a JSON Schema that Gemini's Schema object takes.  */
static cJSON *
clean_schema (const cJSON *in, int depth)
{
  static const char *const scalar_keys[]
      = { "format",        "title",     "description", "nullable", "maxItems", "minItems",
          "minLength",     "maxLength", "pattern",     "minimum",  "maximum",  "minProperties",
          "maxProperties", "default",   "example",     NULL };
  cJSON *out = cJSON_CreateObject ();
  const cJSON *v;

  if (!cJSON_IsObject (in) || depth > MAX_SCHEMA_DEPTH)
    return out;
  v = cJSON_GetObjectItemCaseSensitive (in, "type");
  if (cJSON_IsString (v))
    cJSON_AddStringToObject (out, "type", v->valuestring);
  else if (cJSON_IsArray (v))
    {
      /* ["string", "null"] -> type string, nullable */
      const cJSON *t;
      cJSON_ArrayForEach (t, v)
      {
        if (!cJSON_IsString (t))
          continue;
        if (strcmp (t->valuestring, "null") == 0)
          cJSON_AddBoolToObject (out, "nullable", 1);
        else if (!cJSON_HasObjectItem (out, "type"))
          cJSON_AddStringToObject (out, "type", t->valuestring);
      }
    }
  for (const char *const *k = scalar_keys; *k; k++)
    if ((v = cJSON_GetObjectItemCaseSensitive (in, *k)) != NULL && !cJSON_IsObject (v)
        && !cJSON_IsArray (v) && !cJSON_HasObjectItem (out, *k))
      cJSON_AddItemToObject (out, *k, cJSON_Duplicate (v, 0));
  if (cJSON_IsArray (v = cJSON_GetObjectItemCaseSensitive (in, "enum")))
    cJSON_AddItemToObject (out, "enum", cJSON_Duplicate (v, 1));
  if (cJSON_IsArray (v = cJSON_GetObjectItemCaseSensitive (in, "required")))
    cJSON_AddItemToObject (out, "required", cJSON_Duplicate (v, 1));
  if (cJSON_IsObject (v = cJSON_GetObjectItemCaseSensitive (in, "items")))
    cJSON_AddItemToObject (out, "items", clean_schema (v, depth + 1));
  if (cJSON_IsObject (v = cJSON_GetObjectItemCaseSensitive (in, "properties")))
    {
      cJSON *props = cJSON_AddObjectToObject (out, "properties");
      const cJSON *p;
      cJSON_ArrayForEach (p, v)
          cJSON_AddItemToObject (props, p->string, clean_schema (p, depth + 1));
    }
  if (cJSON_IsArray (v = cJSON_GetObjectItemCaseSensitive (in, "anyOf")))
    {
      cJSON *any = cJSON_AddArrayToObject (out, "anyOf");
      const cJSON *p;
      cJSON_ArrayForEach (p, v) cJSON_AddItemToArray (any, clean_schema (p, depth + 1));
    }
  return out;
}

static void
add_content (cJSON *contents, const struct llm_msg *m)
{
  const cJSON *c;
  cJSON *parts, *p, *inner;

  if (strcmp (m->role, "tool") == 0)
    {
      cJSON *value = llm_result_value (m->text);
      parts = llm_turn_items (contents, "user", "parts");
      p = cJSON_CreateObject ();
      inner = cJSON_AddObjectToObject (p, "functionResponse");
      cJSON_AddStringToObject (inner, "name", m->tool_name ? m->tool_name : "tool");
      /* response is a Struct: an object as it is, anything else wrapped.  */
      if (cJSON_IsObject (value))
        cJSON_AddItemToObject (inner, "response", value);
      else
        {
          cJSON *wrap = cJSON_AddObjectToObject (inner, "response");
          cJSON_AddItemToObject (wrap, "result", value);
        }
      cJSON_AddItemToArray (parts, p);
      return;
    }
  if ((m->text == NULL || m->text[0] == '\0') && m->tool_calls == NULL)
    return;
  parts = llm_turn_items (contents, strcmp (m->role, "assistant") == 0 ? "model" : "user", "parts");
  if (m->text && m->text[0])
    {
      p = cJSON_CreateObject ();
      cJSON_AddStringToObject (p, "text", m->text);
      cJSON_AddItemToArray (parts, p);
    }
  cJSON_ArrayForEach (c, m->tool_calls)
  {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive (
        cJSON_GetObjectItemCaseSensitive (c, "function"), "name");
    p = cJSON_CreateObject ();
    inner = cJSON_AddObjectToObject (p, "functionCall");
    cJSON_AddStringToObject (inner, "name", cJSON_IsString (name) ? name->valuestring : "");
    cJSON_AddItemToObject (inner, "args", llm_args_object (c));
    cJSON_AddItemToArray (parts, p);
  }
}

static int
build (const struct llm_call *c, const struct llm_creds *cr, struct llm_http *h, char *why,
       size_t whysize)
{
  const cJSON *fns[MAX_TOOLS];
  struct llm_msgs msgs;
  cJSON *body, *contents, *gen, *stop;
  const char *choice, *fname, *model = c->model;
  char enc[512];
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
  if (msgs.system)
    {
      cJSON *si = cJSON_AddObjectToObject (body, "systemInstruction");
      cJSON *parts = cJSON_AddArrayToObject (si, "parts"), *p = cJSON_CreateObject ();
      cJSON_AddStringToObject (p, "text", msgs.system);
      cJSON_AddItemToArray (parts, p);
    }
  contents = cJSON_AddArrayToObject (body, "contents");
  for (int i = 0; i < msgs.n; i++)
    add_content (contents, &msgs.m[i]);
  if (nf > 0)
    {
      cJSON *tools = cJSON_AddArrayToObject (body, "tools");
      cJSON *holder = cJSON_CreateObject ();
      cJSON *decls = cJSON_AddArrayToObject (holder, "functionDeclarations");
      cJSON *cfg, *fcc;
      cJSON_AddItemToArray (tools, holder);
      for (int i = 0; i < nf; i++)
        {
          const cJSON *d = cJSON_GetObjectItemCaseSensitive (fns[i], "description");
          const cJSON *prm = cJSON_GetObjectItemCaseSensitive (fns[i], "parameters");
          cJSON *t = cJSON_CreateObject ();
          cJSON_AddStringToObject (t, "name",
                                   cJSON_GetObjectItemCaseSensitive (fns[i], "name")->valuestring);
          if (cJSON_IsString (d))
            cJSON_AddStringToObject (t, "description", d->valuestring);
          /* An object schema without properties is refused: leave it out.  */
          if (cJSON_IsObject (cJSON_GetObjectItemCaseSensitive (prm, "properties"))
              && cJSON_GetArraySize (cJSON_GetObjectItemCaseSensitive (prm, "properties")) > 0)
            cJSON_AddItemToObject (t, "parameters", clean_schema (prm, 0));
          cJSON_AddItemToArray (decls, t);
        }
      choice = llm_tool_choice (c->params, &fname);
      cfg = cJSON_AddObjectToObject (body, "toolConfig");
      fcc = cJSON_AddObjectToObject (cfg, "functionCallingConfig");
      cJSON_AddStringToObject (fcc, "mode",
                               fname || strcmp (choice, "required") == 0 ? "ANY"
                               : strcmp (choice, "none") == 0            ? "NONE"
                                                                         : "AUTO");
      if (fname)
        {
          cJSON *names = cJSON_AddArrayToObject (fcc, "allowedFunctionNames");
          cJSON_AddItemToArray (names, cJSON_CreateString (fname));
        }
    }
  gen = cJSON_AddObjectToObject (body, "generationConfig");
  llm_copy_number (gen, "temperature", c->params, "temperature");
  llm_copy_number (gen, "topP", c->params, "top_p");
  if (c->max_tokens > 0)
    {
      cJSON_AddNumberToObject (gen, "maxOutputTokens", (double) c->max_tokens);
      h->sent_max_tokens = c->max_tokens;
    }
  if ((stop = llm_stop_list (c->params)) != NULL)
    cJSON_AddItemToObject (gen, "stopSequences", stop);
  h->body = cJSON_PrintUnformatted (body);
  cJSON_Delete (body);
  llm_msgs_free (&msgs);
  if (strncmp (model, "models/", 7) == 0)
    model += 7;
  llm_url_encode (model, enc, sizeof enc);
  snprintf (h->url, sizeof h->url, "%s/v1beta/models/%s:%s", c->base, enc,
            c->stream ? "streamGenerateContent?alt=sse" : "generateContent");
  if (cr->key && llm_http_header (h, "x-goog-api-key: %s", cr->key) < 0)
    return -1;
  return h->body ? 0 : -1;
}

static const char *
finish_reason (struct llm_stream *s, const char *r)
{
  if (strcmp (r, "STOP") == 0)
    return s->n_tools > 0 ? "tool_calls" : "stop";
  if (strcmp (r, "MAX_TOKENS") == 0)
    return "length";
  if (strcmp (r, "SAFETY") == 0 || strcmp (r, "RECITATION") == 0 || strcmp (r, "BLOCKLIST") == 0
      || strcmp (r, "PROHIBITED_CONTENT") == 0 || strcmp (r, "SPII") == 0)
    return "content_filter";
  return "other";
}

static void
take_usage (struct llm_stream *s, const cJSON *u)
{
  const cJSON *cand = cJSON_GetObjectItemCaseSensitive (u, "candidatesTokenCount");
  const cJSON *thoughts = cJSON_GetObjectItemCaseSensitive (u, "thoughtsTokenCount");

  if (!cJSON_IsObject (u))
    return;
  llm_usage (s, cJSON_GetObjectItemCaseSensitive (u, "promptTokenCount"), NULL,
             cJSON_GetObjectItemCaseSensitive (u, "totalTokenCount"));
  /* Thinking tokens are billed as output.  */
  if (cJSON_IsNumber (cand) || cJSON_IsNumber (thoughts))
    {
      double out
          = (cJSON_IsNumber (cand) && cand->valuedouble >= 0 ? cand->valuedouble : 0)
            + (cJSON_IsNumber (thoughts) && thoughts->valuedouble >= 0 ? thoughts->valuedouble : 0);
      cJSON *n = cJSON_CreateNumber (out);
      llm_usage (s, NULL, n, NULL);
      cJSON_Delete (n);
    }
}

/* One GenerateContentResponse, whole or a streamed piece.  */
static void
take_response (struct llm_stream *s, const cJSON *doc, bool piece)
{
  const cJSON *cands = cJSON_GetObjectItemCaseSensitive (doc, "candidates");
  const cJSON *cand = cJSON_GetArrayItem (cands, 0);
  const cJSON *parts = cJSON_GetObjectItemCaseSensitive (
      cJSON_GetObjectItemCaseSensitive (cand, "content"), "parts");
  const cJSON *fr = cJSON_GetObjectItemCaseSensitive (cand, "finishReason");
  const cJSON *err = cJSON_GetObjectItemCaseSensitive (doc, "error");
  const cJSON *block = cJSON_GetObjectItemCaseSensitive (
      cJSON_GetObjectItemCaseSensitive (doc, "promptFeedback"), "blockReason");
  const cJSON *p;

  if (cJSON_IsObject (err))
    {
      const cJSON *m = cJSON_GetObjectItemCaseSensitive (err, "message");
      const cJSON *st = cJSON_GetObjectItemCaseSensitive (err, "status");
      const char *sts = cJSON_IsString (st) ? st->valuestring : "error";
      llm_stream_error (s, sts, cJSON_IsString (m) ? m->valuestring : "",
                        strcmp (sts, "UNAVAILABLE") == 0 || strcmp (sts, "RESOURCE_EXHAUSTED") == 0
                            || strcmp (sts, "INTERNAL") == 0);
      return;
    }
  take_usage (s, cJSON_GetObjectItemCaseSensitive (doc, "usageMetadata"));
  if (cJSON_IsString (block))
    {
      llm_stream_error (s, "blocked", block->valuestring, false);
      return;
    }
  if (!cJSON_IsArray (cands))
    {
      /* A last streamed piece may carry only the usage.  */
      if (!piece || !cJSON_IsObject (cJSON_GetObjectItemCaseSensitive (doc, "usageMetadata")))
        s->malformed = true;
      return;
    }
  cJSON_ArrayForEach (p, parts)
  {
    const cJSON *text = cJSON_GetObjectItemCaseSensitive (p, "text");
    const cJSON *fc = cJSON_GetObjectItemCaseSensitive (p, "functionCall");
    if (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (p, "thought")))
      continue; /* the model's thinking is not its answer */
    if (cJSON_IsString (text))
      llm_text (s, text->valuestring, strlen (text->valuestring));
    else if (cJSON_IsObject (fc))
      {
        struct llm_tool *t = llm_tool (s, s->next_call_id);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive (fc, "name");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive (fc, "id");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive (fc, "args");
        char made[32];
        snprintf (made, sizeof made, "call_%d", s->next_call_id++);
        llm_tool_set_id (t, cJSON_IsString (id) ? id->valuestring : made);
        if (cJSON_IsString (name))
          llm_tool_set_name (t, name->valuestring);
        if (cJSON_IsObject (args))
          llm_tool_args_json (s, t, args);
      }
  }
  if (cJSON_IsString (fr))
    {
      llm_finish (s, finish_reason (s, fr->valuestring));
      s->completed = true;
    }
}

static void
event (struct llm_stream *s, const char *name, const char *data, size_t len)
{
  cJSON *doc = cJSON_ParseWithLength (data, len);

  (void) name;
  if (!cJSON_IsObject (doc))
    s->malformed = true;
  else
    {
      s->events++;
      take_response (s, doc, true);
    }
  cJSON_Delete (doc);
}

static void
body (struct llm_stream *s, const cJSON *doc)
{
  take_response (s, doc, false);
}

const struct llm_provider llm_gemini = {
  .name = "google",
  .answer = "a Gemini generateContent answer",
  .key_env = { "GOOGLE_API_KEY", "GEMINI_API_KEY" },
  .key_config = "google_api_key",
  .default_base = "https://generativelanguage.googleapis.com",
  .framing = LLM_SSE,
  .build = build,
  .event = event,
  .body = body,
};
