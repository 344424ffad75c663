/* Fuzz what the model providers parse and build (broker/llm*.c,
 * broker/eventstream.c): every byte a model server sends is untrusted,
 * and so is every llm.chat request the VM sends.
 *
 * Input: byte 0 picks the provider (bits 0-2: openai, responses,
 * anthropic, gemini, bedrock) and the mode:
 *   bit 3  0: an answer.  The rest of the input is a response body, fed to
 *             llm_stream_feed in pieces of (byte 1 % 61) + 1 bytes, as
 *             libcurl would hand them over; bit 4 says whether the request
 *             streamed (SSE, or Bedrock's event stream), bit 5 whether the
 *             HTTP status was 200 (else 400: the body is an error).  Then
 *             llm_stream_end and llm_stream_reply.
 *          1: a request.  The rest is the VM's llm.chat params (JSON), given
 *             to the provider's build with bit 4 as the stream flag.
 * Invariants: no crash, leak or overread (ASan); a reply is an object
 * with a string text, at most LLM_MAX_TOOL_CALLS tool calls each with a
 * string id, name and arguments, and counts that are non-negative; a
 * built request has a URL under the base and a body that is JSON.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/llm.h"

#define CHECK(cond)                                                                                \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          fprintf (stderr, "fuzz_llm: invariant failed: %s (line %d)\n", #cond, __LINE__);         \
          abort ();                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

static const struct llm_provider *const providers[]
    = { &llm_openai, &llm_responses, &llm_anthropic, &llm_gemini, &llm_bedrock };

static void
check_reply (const cJSON *data)
{
  const cJSON *text = cJSON_GetObjectItemCaseSensitive (data, "text");
  const cJSON *calls = cJSON_GetObjectItemCaseSensitive (data, "tool_calls");
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive (data, "usage");
  const cJSON *c, *u;

  CHECK (cJSON_IsObject (data) && cJSON_IsString (text));
  CHECK (calls == NULL
         || (cJSON_IsArray (calls) && cJSON_GetArraySize (calls) <= LLM_MAX_TOOL_CALLS));
  cJSON_ArrayForEach (c, calls)
  {
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive (c, "function");
    CHECK (cJSON_IsString (cJSON_GetObjectItemCaseSensitive (c, "id")));
    CHECK (cJSON_IsString (cJSON_GetObjectItemCaseSensitive (fn, "name")));
    CHECK (cJSON_IsString (cJSON_GetObjectItemCaseSensitive (fn, "arguments")));
  }
  CHECK (cJSON_IsObject (usage));
  cJSON_ArrayForEach (u, usage)
  {
    if (cJSON_IsNumber (u))
      CHECK (u->valuedouble >= 0);
  }
}

static void
answer (const struct llm_provider *p, bool streaming, bool ok, size_t piece, const uint8_t *data,
        size_t size)
{
  struct llm_stream s = { 0 };
  char why[600];
  cJSON *reply;

  llm_stream_begin (&s, p, streaming);
  s.http_status = ok ? 200 : 400;
  for (size_t off = 0; off < size;)
    {
      size_t n = size - off < piece ? size - off : piece;
      char *copy = malloc (n); /* exact size: a read past the piece is caught */
      bool go;
      CHECK (copy != NULL);
      memcpy (copy, data + off, n);
      go = llm_stream_feed (&s, copy, n);
      free (copy);
      if (!go)
        break;
      off += n;
    }
  llm_stream_end (&s);
  reply = llm_stream_reply (&s, "fuzz-model", why, sizeof why);
  if (reply)
    check_reply (reply);
  else
    CHECK (why[0] != '\0');
  cJSON_Delete (reply);
  llm_stream_free (&s);
}

static void
request (const struct llm_provider *p, bool stream, const uint8_t *data, size_t size)
{
  cJSON *params = cJSON_ParseWithLength ((const char *) data, size);
  struct llm_creds cr = { .key = (char *) "fuzz-key",
                          .aws_access_key_id = (char *) "AKIDFUZZ",
                          .aws_secret_access_key = (char *) "fuzz/secret" };
  struct llm_call c = { .params = params,
                        .model = "fuzz-model:0",
                        .base = "http://127.0.0.1:9/base",
                        .region = "us-fuzz-1",
                        .stream = stream,
                        .max_tokens = 100 };
  struct llm_http h = { 0 };
  char why[600];

  if (!cJSON_IsObject (params)
      || !cJSON_IsArray (cJSON_GetObjectItemCaseSensitive (params, "messages")))
    {
      cJSON_Delete (params); /* the broker checks this much before it builds */
      return;
    }
  if (p->build (&c, &cr, &h, why, sizeof why) == 0)
    {
      cJSON *body = cJSON_Parse (h.body);
      CHECK (strncmp (h.url, "http://127.0.0.1:9/base/", 24) == 0);
      CHECK (cJSON_IsObject (body));
      cJSON_Delete (body);
    }
  /* The headers hold the key: llm_http_free wipes them.  */
  llm_http_free (&h);
  cJSON_Delete (params);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const struct llm_provider *p;

  if (size < 2)
    return 0;
  p = providers[(data[0] & 7) % 5];
  if (data[0] & 8)
    request (p, (data[0] & 16) != 0, data + 2, size - 2);
  else
    answer (p, (data[0] & 16) != 0, (data[0] & 32) != 0, (size_t) (data[1] % 61) + 1, data + 2,
            size - 2);
  return 0;
}
