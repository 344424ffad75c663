/* Model providers behind one interface (internal to broker/).
 *
 * The VM always speaks one dialect to the broker: llm.chat with OpenAI-style
 * messages (system/user/assistant/tool, tool_calls with JSON-string
 * arguments) and function tools.  The broker picks the provider from the
 * model string's prefix (or Tactus's older provider= key), and the
 * provider's file translates the request into its wire format and its
 * answers (a JSON body, server-sent events, or AWS's binary event stream)
 * back into the same normalized reply: text, tool calls, usage, finish
 * reason.  llm.c owns everything else: the policy, keys, libcurl, retries,
 * deadlines, size limits, deltas to the VM and the trace.
 *
 * One file per provider:
 *   llm_openai.c      OpenAI chat completions, and every OpenAI-compatible server
 *   llm_responses.c   OpenAI's Responses API (model_type = "responses")
 *   llm_anthropic.c   Anthropic's Messages API
 *   llm_gemini.c      Google's Gemini generateContent / streamGenerateContent
 *   llm_bedrock.c     Amazon Bedrock Converse / ConverseStream (SigV4, event stream)
 * Everything a provider parses comes from a server: untrusted, bounded,
 * fuzzed (tests/fuzz/fuzz_llm.c).  */
#ifndef TR_BROKER_LLM_H
#define TR_BROKER_LLM_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;
struct broker_state;
struct broker_endpoint;
struct curl_slist;
struct curl_api;

#define LLM_MAX_RESPONSE (8 << 20)
#define LLM_MAX_TOOL_CALLS 64

/* What the provider needs to build its request.  */
struct llm_call
{
  const struct cJSON *params; /* the VM's llm.chat params (untrusted, shape-checked) */
  const char *model;          /* the model name without the provider prefix */
  const char *base;           /* base URL, no trailing slash */
  const char *region;         /* Bedrock's region, else NULL */
  bool stream;
  long max_tokens; /* 0: none asked (a provider that needs one picks its default) */
};

/* The credentials, read on the host right before the call.  */
struct llm_creds
{
  char *key; /* an API key (openai, anthropic, google), or NULL */
  char *aws_access_key_id, *aws_secret_access_key, *aws_session_token; /* bedrock */
};

/* What the provider builds: the URL, extra headers and the JSON body.  */
#define LLM_MAX_HEADERS 8
struct llm_http
{
  char url[2048];
  char *headers[LLM_MAX_HEADERS]; /* "Name: value", malloc'd (wiped: they may hold keys) */
  int n_headers;
  char *body; /* malloc'd */
  long sent_max_tokens;
};
/* Add a header (printf-style); -1 when there is no room.  */
int llm_http_header (struct llm_http *h, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
void llm_http_free (struct llm_http *h);

enum llm_framing
{
  LLM_SSE,         /* text/event-stream */
  LLM_EVENTSTREAM, /* application/vnd.amazon.eventstream */
};

/* One tool call being assembled (streamed in pieces, or whole).  */
struct llm_tool
{
  long key; /* the provider's index for it (content block, output index...) */
  char *id, *name;
  char *args; /* JSON text */
  size_t args_len, args_cap;
  bool args_whole; /* args came as one object (not pieces) */
};

/* The reply being assembled from what the server sends.  */
struct llm_stream
{
  struct broker_state *b;
  const struct cJSON *id;
  const char *agent;
  const struct llm_provider *p;
  bool streaming;   /* we asked for a stream */
  long http_status; /* of the current response (header callback) */
  double retry_after;
  int mode;  /* LLM_BODY_*: how the body is being read */
  char *raw; /* the whole body (JSON, errors), or the unparsed rest of a stream */
  size_t raw_len, raw_cap;
  size_t total; /* bytes received, for the size cap */
  char *text;   /* accumulated assistant text */
  size_t text_len, text_cap;
  struct llm_tool tools[LLM_MAX_TOOL_CALLS];
  int n_tools;
  int next_call_id; /* for providers whose calls carry no id (Gemini) */
  long prompt_tokens, completion_tokens, total_tokens; /* -1: not reported */
  double cost;                                         /* reported by the server, -1: none */
  bool malformed;
  bool completed; /* the provider's end-of-answer marker was seen */
  bool aborted;   /* deadline or stop signal */
  bool deadline;  /* it was the run's deadline */
  int events;     /* stream events parsed */
  char head[201]; /* the start of the body, for error messages */
  char finish_reason[32];
  char error_type[64]; /* an error reported inside a 200 stream */
  char error_msg[400];
  bool error_retryable; /* that error is an overload/rate limit */
  /* SSE parser state */
  char sse_event[64];
  char *sse_data;
  size_t sse_len, sse_cap;
};

enum
{
  LLM_BODY_UNKNOWN = 0,
  LLM_BODY_JSON,   /* one JSON document (non-streamed, or an error) */
  LLM_BODY_STREAM, /* SSE or event-stream frames, parsed as they come */
};

struct llm_provider
{
  const char *name;         /* canonical: openai, anthropic, google, bedrock */
  const char *answer;       /* what an answer is called, for messages */
  const char *key_env[3];   /* where its key may come from on the host, in order */
  const char *key_config;   /* the config key holding it (a secret: read after the fork) */
  const char *default_base; /* without trailing slash */
  enum llm_framing framing;
  /* Build the request; <0 with WHY filled when it cannot be made.  */
  int (*build) (const struct llm_call *c, const struct llm_creds *cr, struct llm_http *h, char *why,
                size_t whysize);
  /* One streamed event: EVENT is the SSE event name or the event stream's
   * :event-type ("" when none), DATA its payload.  */
  void (*event) (struct llm_stream *s, const char *event, const char *data, size_t len);
  /* A whole (non-streamed) answer.  */
  void (*body) (struct llm_stream *s, const struct cJSON *doc);
};

extern const struct llm_provider llm_openai, llm_responses, llm_anthropic, llm_gemini, llm_bedrock;

/* ---- what providers call (llm.c) ---- */

/* Assistant text: appended, sent to the VM as a delta when streaming.  */
void llm_text (struct llm_stream *s, const char *text, size_t len);
/* The tool call with the provider's KEY, created if new (NULL when there
 * are too many).  */
struct llm_tool *llm_tool (struct llm_stream *s, long key);
void llm_tool_set_id (struct llm_tool *t, const char *id);
void llm_tool_set_name (struct llm_tool *t, const char *name);
/* Arguments: a piece of JSON text, or a whole JSON value.  */
void llm_tool_args (struct llm_stream *s, struct llm_tool *t, const char *piece, size_t len);
void llm_tool_args_json (struct llm_stream *s, struct llm_tool *t, const struct cJSON *value);
/* Token counts; a NULL or non-number item leaves the count as it is.  */
void llm_usage (struct llm_stream *s, const struct cJSON *prompt, const struct cJSON *completion,
                const struct cJSON *total);
void llm_finish (struct llm_stream *s, const char *reason);
/* An error the server reported inside a 200 answer (a stream's error event).  */
void llm_stream_error (struct llm_stream *s, const char *type, const char *message, bool retryable);

/* ---- helpers for building requests ---- */

/* The VM's messages as a list of normalized turns (llm_msgs.c): each
 * provider walks them to make its own shape.  */
struct llm_msg
{
  const char *role;               /* system, user, assistant, tool */
  char *text;                     /* the content as text (parts joined), malloc'd, or NULL */
  const struct cJSON *tool_calls; /* assistant: the OpenAI tool_calls array, or NULL */
  const char *tool_call_id;       /* tool: the call it answers */
  const char *tool_name;          /* tool: the name of that call (looked up), or NULL */
};
struct llm_msgs
{
  struct llm_msg *m;
  int n;
  char *system; /* every system message, joined (NULL: none) */
};
int llm_msgs_parse (const struct cJSON *messages, struct llm_msgs *out, char *why, size_t whysize);
void llm_msgs_free (struct llm_msgs *m);

/* A tool call's arguments (a JSON text from the VM) as an object; an
 * invalid or non-object text gives an empty object.  */
struct cJSON *llm_args_object (const struct cJSON *call);
/* A tool result's text as JSON when it parses, else as a string.  */
struct cJSON *llm_result_value (const char *text);
/* params.tools (OpenAI function tools) -> each function object, in order,
 * checked; returns how many, -1 (WHY) when malformed.  */
int llm_tool_functions (const struct cJSON *params, const struct cJSON **fns, int max, char *why,
                        size_t whysize);
/* params.tool_choice as one of "auto", "none", "required", or a function
 * name (*NAME set); "auto" when absent.  */
const char *llm_tool_choice (const struct cJSON *params, const char **name);
/* Add params.KEY (a number, else nothing) to OBJ as AS.  */
void llm_copy_number (struct cJSON *obj, const char *as, const struct cJSON *params,
                      const char *key);
/* params.stop as an array of strings (a string becomes one), or NULL.  */
struct cJSON *llm_stop_list (const struct cJSON *params);
struct cJSON *llm_turn_items (struct cJSON *turns, const char *role, const char *key);
/* Percent-encode S (RFC 3986 unreserved kept) into OUT.  */
void llm_url_encode (const char *s, char *out, size_t size);

/* Bedrock's credentials and region, from the host (llm_bedrock.c).  */
int llm_bedrock_creds (struct broker_state *b, const struct broker_endpoint *ep,
                       struct llm_creds *cr, char *region, size_t rsize, char *why, size_t whysize);

/* USD per million input and output tokens for PROVIDER's MODEL, from the
 * price table (data/model_prices.json, built in) or OVERRIDES (the
 * config's model_prices, as JSON text); -1 when neither knows it.  */
int prices_lookup (const char *provider, const char *model, const char *overrides, double *in,
                   double *out);

/* ---- the parts of llm.c the fuzzer drives directly ---- */
void llm_stream_begin (struct llm_stream *s, const struct llm_provider *p, bool streaming);
/* Body bytes as libcurl hands them over; false when the transfer must stop.  */
bool llm_stream_feed (struct llm_stream *s, const char *data, size_t len);
/* The body ended: flush what is pending (a last SSE event).  */
void llm_stream_end (struct llm_stream *s);
void llm_stream_free (struct llm_stream *s);
/* The normalized reply (the done event's data), or NULL when the answer
 * is no completion (*WHY says so).  */
struct cJSON *llm_stream_reply (struct llm_stream *s, const char *model, char *why, size_t whysize);

/* The AWS event stream (eventstream.c): one message out of BUF.  Returns
 * the bytes it takes (0: incomplete, need more), or -1 when malformed
 * (bad lengths or CRCs).  */
struct es_message
{
  const char *event_type;   /* :event-type, or NULL */
  const char *message_type; /* :message-type (event, exception, error), or NULL */
  const char *exception;    /* :exception-type, or NULL */
  const char *error_code;   /* :error-code, or NULL */
  const char *payload;
  size_t payload_len;
  char strings[4][128]; /* storage for the header values above */
};
long es_decode (const unsigned char *buf, size_t len, struct es_message *m);
unsigned long es_crc32 (unsigned long crc, const unsigned char *p, size_t n);

#endif
