/* Amazon Bedrock's Converse API: POST BASE/model/MODEL_ID/converse, or
 * /converse-stream for a stream, signed with AWS Signature Version 4
 * (sigv4.c) for the service "bedrock".  Credentials and region come from
 * the host only, read right before the call: the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,
 * AWS_DEFAULT_REGION, AWS_PROFILE), the config (aws: {access_key_id,
 * secret_access_key, session_token, default_region, profile};
 * providers.bedrock.region), then the AWS CLI's files
 * (~/.aws/credentials, ~/.aws/config).
 *
 * Request: messages [{role, content: [{text} | {toolUse: {toolUseId, name,
 * input}} | {toolResult: {toolUseId, content: [{json}|{text}]}}]}] with
 * roles alternating, system [{text}], inferenceConfig {maxTokens,
 * temperature, topP, stopSequences}, toolConfig {tools: [{toolSpec: {name,
 * description, inputSchema: {json}}}], toolChoice}.
 *
 * Answer: output.message.content, stopReason, usage {inputTokens,
 * outputTokens, totalTokens}.  ConverseStream answers in AWS's binary event
 * stream (eventstream.c): messageStart, contentBlockStart (a toolUse's id
 * and name), contentBlockDelta ({text} or {toolUse: {input}} pieces),
 * contentBlockStop, messageStop (stopReason), metadata (usage); an
 * exception message (throttlingException...) ends it.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/internal.h"
#include "broker/llm.h"
#include "broker/sigv4.h"

#define MAX_TOOLS 256
#define MAX_AWS_FILE (64 << 10)

/* ---- credentials ------------------------------------------------------------------------------
 */

static char *
env_dup (const char *name)
{
  const char *v = getenv (name);
  return v && *v ? strdup (v) : NULL;
}

/* PATH's text (at most 64 KiB), read unbuffered: it holds secrets.  */
static char *
read_small (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;
  char *buf;
  ssize_t n;

  if (fd < 0)
    return NULL;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size > MAX_AWS_FILE)
    {
      close (fd);
      return NULL;
    }
  buf = malloc ((size_t) st.st_size + 1);
  n = buf ? read (fd, buf, (size_t) st.st_size) : -1;
  close (fd);
  if (n < 0)
    {
      free (buf);
      return NULL;
    }
  buf[n] = '\0';
  return buf;
}

static char *
trim (char *s)
{
  char *e;
  while (*s == ' ' || *s == '\t')
    s++;
  e = s + strlen (s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
    *--e = '\0';
  return s;
}

/* KEY in section SECTION of an INI file (the AWS CLI's format).  */
static char *
ini_get (const char *path, const char *section, const char *key)
{
  char *text = read_small (path), *line, *save = NULL, *found = NULL;
  bool in = false;

  if (text == NULL)
    return NULL;
  for (line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      char *l = trim (line), *eq;
      if (*l == '#' || *l == ';' || *l == '\0')
        continue;
      if (*l == '[')
        {
          char *end = strchr (l, ']');
          if (end)
            *end = '\0';
          in = strcmp (trim (l + 1), section) == 0;
          continue;
        }
      if (!in || (eq = strchr (l, '=')) == NULL)
        continue;
      *eq = '\0';
      if (strcmp (trim (l), key) == 0 && found == NULL)
        found = strdup (trim (eq + 1));
    }
  explicit_bzero (text, strlen (text));
  free (text);
  return found;
}

static void
aws_file (const char *env, const char *name, char *buf, size_t size)
{
  const char *v = getenv (env), *home = getenv ("HOME");
  if (v && *v)
    snprintf (buf, size, "%s", v);
  else
    snprintf (buf, size, "%s/.aws/%s", home && *home ? home : "/nonexistent", name);
}

static char *
config_secret (struct broker_state *b, const char *key)
{
  return b->o->secret_reader ? b->o->secret_reader (b->o->procedure_path, key) : NULL;
}

int
llm_bedrock_creds (struct broker_state *b, const struct broker_endpoint *ep, struct llm_creds *cr,
                   char *region, size_t rsize, char *why, size_t whysize)
{
  const char *profile = getenv ("AWS_PROFILE");
  char path[1024], section[200];
  char *v;

  if (profile == NULL || !*profile)
    profile = b->o->aws_profile ? b->o->aws_profile : "default";
  /* 1. the environment */
  cr->aws_access_key_id = env_dup ("AWS_ACCESS_KEY_ID");
  cr->aws_secret_access_key = env_dup ("AWS_SECRET_ACCESS_KEY");
  if (cr->aws_access_key_id && cr->aws_secret_access_key)
    cr->aws_session_token = env_dup ("AWS_SESSION_TOKEN");
  /* 2. the config (aws: {...}, or Tactus's older top-level keys) */
  if (!cr->aws_access_key_id || !cr->aws_secret_access_key)
    {
      free (cr->aws_access_key_id);
      if (cr->aws_secret_access_key)
        explicit_bzero (cr->aws_secret_access_key, strlen (cr->aws_secret_access_key));
      free (cr->aws_secret_access_key);
      cr->aws_access_key_id = config_secret (b, "aws.access_key_id");
      if (cr->aws_access_key_id == NULL)
        cr->aws_access_key_id = config_secret (b, "aws_access_key_id");
      cr->aws_secret_access_key = config_secret (b, "aws.secret_access_key");
      if (cr->aws_secret_access_key == NULL)
        cr->aws_secret_access_key = config_secret (b, "aws_secret_access_key");
      if (cr->aws_access_key_id && cr->aws_secret_access_key)
        cr->aws_session_token = config_secret (b, "aws.session_token");
    }
  /* 3. ~/.aws/credentials */
  if (!cr->aws_access_key_id || !cr->aws_secret_access_key)
    {
      free (cr->aws_access_key_id);
      if (cr->aws_secret_access_key)
        explicit_bzero (cr->aws_secret_access_key, strlen (cr->aws_secret_access_key));
      free (cr->aws_secret_access_key);
      aws_file ("AWS_SHARED_CREDENTIALS_FILE", "credentials", path, sizeof path);
      cr->aws_access_key_id = ini_get (path, profile, "aws_access_key_id");
      cr->aws_secret_access_key = ini_get (path, profile, "aws_secret_access_key");
      if (cr->aws_access_key_id && cr->aws_secret_access_key)
        cr->aws_session_token = ini_get (path, profile, "aws_session_token");
    }
  if (!cr->aws_access_key_id || !cr->aws_secret_access_key)
    {
      snprintf (
          why, whysize,
          "no AWS credentials for Bedrock: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY on "
          "the host, aws: {access_key_id, secret_access_key} in ~/.tactus/config.yml, or "
          "profile '%s' in ~/.aws/credentials",
          profile);
      return -1;
    }
  /* The region: config, environment, then ~/.aws/config.  */
  v = NULL;
  if (ep && ep->region)
    v = strdup (ep->region);
  else if (b->o->aws_region)
    v = strdup (b->o->aws_region);
  else if ((v = env_dup ("AWS_REGION")) == NULL && (v = env_dup ("AWS_DEFAULT_REGION")) == NULL)
    {
      aws_file ("AWS_CONFIG_FILE", "config", path, sizeof path);
      if (strcmp (profile, "default") == 0)
        snprintf (section, sizeof section, "default");
      else
        snprintf (section, sizeof section, "profile %s", profile);
      v = ini_get (path, section, "region");
    }
  if (v == NULL || v[0] == '\0' || strlen (v) >= rsize
      || strspn (v, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen (v))
    {
      snprintf (why, whysize,
                "no usable AWS region for Bedrock%s%s: set aws.default_region in "
                "~/.tactus/config.yml (or providers.bedrock.region), AWS_REGION, or region in "
                "~/.aws/config",
                v ? " (not a region name: " : "", v ? "given)" : "");
      free (v);
      return -1;
    }
  snprintf (region, rsize, "%s", v);
  free (v);
  return 0;
}

/* ---- the request ---------------------------------------------------------------------------- */

static void
add_message (cJSON *messages, const struct llm_msg *m)
{
  const cJSON *c;
  cJSON *blocks, *b, *inner;

  if (strcmp (m->role, "tool") == 0)
    {
      cJSON *value = llm_result_value (m->text), *content, *part;
      blocks = llm_turn_items (messages, "user", "content");
      b = cJSON_CreateObject ();
      inner = cJSON_AddObjectToObject (b, "toolResult");
      cJSON_AddStringToObject (inner, "toolUseId", m->tool_call_id);
      content = cJSON_AddArrayToObject (inner, "content");
      part = cJSON_CreateObject ();
      if (cJSON_IsObject (value))
        cJSON_AddItemToObject (part, "json", value);
      else
        {
          cJSON_AddStringToObject (part, "text", m->text ? m->text : "");
          cJSON_Delete (value);
        }
      cJSON_AddItemToArray (content, part);
      cJSON_AddItemToArray (blocks, b);
      return;
    }
  if ((m->text == NULL || m->text[0] == '\0') && m->tool_calls == NULL)
    return;
  blocks = llm_turn_items (messages, m->role, "content");
  if (m->text && m->text[0])
    {
      b = cJSON_CreateObject ();
      cJSON_AddStringToObject (b, "text", m->text);
      cJSON_AddItemToArray (blocks, b);
    }
  cJSON_ArrayForEach (c, m->tool_calls)
  {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive (c, "id");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive (
        cJSON_GetObjectItemCaseSensitive (c, "function"), "name");
    b = cJSON_CreateObject ();
    inner = cJSON_AddObjectToObject (b, "toolUse");
    cJSON_AddStringToObject (inner, "toolUseId", cJSON_IsString (id) ? id->valuestring : "");
    cJSON_AddStringToObject (inner, "name", cJSON_IsString (name) ? name->valuestring : "");
    cJSON_AddItemToObject (inner, "input", llm_args_object (c));
    cJSON_AddItemToArray (blocks, b);
  }
}

static cJSON *
request_body (const struct llm_call *c, const struct llm_msgs *msgs, const cJSON **fns, int nf,
              long *sent)
{
  cJSON *body = cJSON_CreateObject (), *messages, *inf, *stop;
  const char *choice, *fname;

  if (msgs->system)
    {
      cJSON *sys = cJSON_AddArrayToObject (body, "system"), *t = cJSON_CreateObject ();
      cJSON_AddStringToObject (t, "text", msgs->system);
      cJSON_AddItemToArray (sys, t);
    }
  messages = cJSON_AddArrayToObject (body, "messages");
  for (int i = 0; i < msgs->n; i++)
    add_message (messages, &msgs->m[i]);
  inf = cJSON_AddObjectToObject (body, "inferenceConfig");
  if (c->max_tokens > 0)
    {
      cJSON_AddNumberToObject (inf, "maxTokens", (double) c->max_tokens);
      *sent = c->max_tokens;
    }
  llm_copy_number (inf, "temperature", c->params, "temperature");
  llm_copy_number (inf, "topP", c->params, "top_p");
  if ((stop = llm_stop_list (c->params)) != NULL)
    cJSON_AddItemToObject (inf, "stopSequences", stop);
  if (nf > 0)
    {
      cJSON *cfg = cJSON_AddObjectToObject (body, "toolConfig");
      cJSON *tools = cJSON_AddArrayToObject (cfg, "tools"), *tc;
      for (int i = 0; i < nf; i++)
        {
          const cJSON *d = cJSON_GetObjectItemCaseSensitive (fns[i], "description");
          const cJSON *prm = cJSON_GetObjectItemCaseSensitive (fns[i], "parameters");
          cJSON *t = cJSON_CreateObject (), *spec = cJSON_AddObjectToObject (t, "toolSpec"),
                *schema;
          cJSON_AddStringToObject (spec, "name",
                                   cJSON_GetObjectItemCaseSensitive (fns[i], "name")->valuestring);
          /* A description is required: the name stands in.  */
          cJSON_AddStringToObject (
              spec, "description",
              cJSON_IsString (d) && d->valuestring[0]
                  ? d->valuestring
                  : cJSON_GetObjectItemCaseSensitive (fns[i], "name")->valuestring);
          schema = cJSON_AddObjectToObject (spec, "inputSchema");
          cJSON_AddItemToObject (schema, "json",
                                 cJSON_IsObject (prm) ? cJSON_Duplicate (prm, 1)
                                                      : cJSON_Parse ("{\"type\":\"object\"}"));
          cJSON_AddItemToArray (tools, t);
        }
      /* Converse has no "none": the tools stay listed (a history with
       * toolUse blocks needs them) and the model chooses.  */
      choice = llm_tool_choice (c->params, &fname);
      tc = cJSON_AddObjectToObject (cfg, "toolChoice");
      if (fname)
        cJSON_AddStringToObject (cJSON_AddObjectToObject (tc, "tool"), "name", fname);
      else
        cJSON_AddObjectToObject (tc, strcmp (choice, "required") == 0 ? "any" : "auto");
    }
  return body;
}

/* BASE as scheme://host[:port][/prefix]: the host header and the prefix.  */
static int
split_base (const char *base, char *host, size_t hsize, const char **prefix)
{
  const char *p = strstr (base, "://"), *slash;
  size_t n;

  if (p == NULL)
    return -1;
  p += 3;
  slash = strchr (p, '/');
  n = slash ? (size_t) (slash - p) : strlen (p);
  if (n == 0 || n >= hsize)
    return -1;
  memcpy (host, p, n);
  host[n] = '\0';
  /* The port the scheme implies is not part of the Host header.  */
  if (strncmp (base, "https://", 8) == 0 && n > 4 && strcmp (host + n - 4, ":443") == 0)
    host[n - 4] = '\0';
  else if (strncmp (base, "http://", 7) == 0 && n > 3 && strcmp (host + n - 3, ":80") == 0)
    host[n - 3] = '\0';
  *prefix = slash ? slash : p + n; /* "" at the end of BASE */
  return 0;
}

static int
build (const struct llm_call *c, const struct llm_creds *cr, struct llm_http *h, char *why,
       size_t whysize)
{
  const cJSON *fns[MAX_TOOLS];
  struct llm_msgs msgs;
  cJSON *body;
  char enc[600], host[512], amz_date[20], path[1400], hdr_host[600], hdr_date[64], auth[1024];
  char *hdr_token = NULL;
  const char *prefix, *signed_headers[4];
  struct sigv4_request sr = { 0 };
  time_t now = time (NULL);
  struct tm tm;
  int nf, n = 0, rc;

  if (c->region == NULL || cr->aws_access_key_id == NULL || cr->aws_secret_access_key == NULL)
    {
      snprintf (why, whysize, "bedrock: no credentials or region");
      return -1;
    }
  if (split_base (c->base, host, sizeof host, &prefix) < 0)
    {
      snprintf (why, whysize, "bedrock: base URL '%.200s' is not scheme://host[:port]", c->base);
      return -1;
    }
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
  body = request_body (c, &msgs, fns, nf, &h->sent_max_tokens);
  h->body = cJSON_PrintUnformatted (body);
  cJSON_Delete (body);
  llm_msgs_free (&msgs);
  if (h->body == NULL)
    return -1;
  llm_url_encode (c->model, enc, sizeof enc);
  snprintf (path, sizeof path, "%s/model/%s/%s", prefix, enc,
            c->stream ? "converse-stream" : "converse");
  /* PREFIX points into BASE: the origin is what comes before it.  */
  snprintf (h->url, sizeof h->url, "%.*s%s", (int) (prefix - c->base), c->base, path);
  gmtime_r (&now, &tm);
  strftime (amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
  /* Signed: content-type (attempt() sends application/json), host,
   * x-amz-date, and the session token when there is one.  */
  snprintf (hdr_host, sizeof hdr_host, "host:%s", host);
  snprintf (hdr_date, sizeof hdr_date, "x-amz-date:%s", amz_date);
  signed_headers[n++] = "content-type:application/json";
  signed_headers[n++] = hdr_host;
  signed_headers[n++] = hdr_date;
  if (cr->aws_session_token
      && asprintf (&hdr_token, "x-amz-security-token:%s", cr->aws_session_token) >= 0)
    signed_headers[n++] = hdr_token;
  sr.method = "POST";
  sr.path = path;
  sr.query = "";
  sr.headers = signed_headers;
  sr.n_headers = n;
  sr.payload = h->body;
  sr.payload_len = strlen (h->body);
  sr.region = c->region;
  sr.service = "bedrock";
  sr.amz_date = amz_date;
  sr.access_key_id = cr->aws_access_key_id;
  sr.secret_access_key = cr->aws_secret_access_key;
  sr.encode_path_again = 1;
  rc = sigv4_sign (&sr, auth, sizeof auth, why, whysize);
  if (hdr_token)
    {
      explicit_bzero (hdr_token, strlen (hdr_token));
      free (hdr_token);
    }
  if (rc < 0)
    return -1;
  if (llm_http_header (h, "Host: %s", host) < 0
      || llm_http_header (h, "X-Amz-Date: %s", amz_date) < 0
      || llm_http_header (h, "Authorization: %s", auth) < 0
      || (cr->aws_session_token
          && llm_http_header (h, "X-Amz-Security-Token: %s", cr->aws_session_token) < 0))
    return -1;
  return 0;
}

/* ---- the answer ------------------------------------------------------------------------------ */

static const char *
finish_reason (const char *stop)
{
  if (strcmp (stop, "end_turn") == 0 || strcmp (stop, "stop_sequence") == 0)
    return "stop";
  if (strcmp (stop, "tool_use") == 0)
    return "tool_calls";
  if (strcmp (stop, "max_tokens") == 0)
    return "length";
  if (strcmp (stop, "guardrail_intervened") == 0 || strcmp (stop, "content_filtered") == 0)
    return "content_filter";
  return stop;
}

static void
take_usage (struct llm_stream *s, const cJSON *u)
{
  if (cJSON_IsObject (u))
    llm_usage (s, cJSON_GetObjectItemCaseSensitive (u, "inputTokens"),
               cJSON_GetObjectItemCaseSensitive (u, "outputTokens"),
               cJSON_GetObjectItemCaseSensitive (u, "totalTokens"));
}

static long
block_index (const cJSON *ev)
{
  const cJSON *i = cJSON_GetObjectItemCaseSensitive (ev, "contentBlockIndex");
  return cJSON_IsNumber (i) && i->valuedouble >= 0 && i->valuedouble < 1e6 ? (long) i->valuedouble
                                                                           : -1;
}

static void
take_tool_use (struct llm_stream *s, long key, const cJSON *tu)
{
  struct llm_tool *t = llm_tool (s, key);
  const cJSON *v;

  if (cJSON_IsString (v = cJSON_GetObjectItemCaseSensitive (tu, "toolUseId")))
    llm_tool_set_id (t, v->valuestring);
  if (cJSON_IsString (v = cJSON_GetObjectItemCaseSensitive (tu, "name")))
    llm_tool_set_name (t, v->valuestring);
  if (cJSON_IsObject (v = cJSON_GetObjectItemCaseSensitive (tu, "input")))
    llm_tool_args_json (s, t, v);
}

static void
event (struct llm_stream *s, const char *name, const char *data, size_t len)
{
  cJSON *doc = cJSON_ParseWithLength (data, len);

  if (name[0] == '!')
    {
      /* An exception: {"message": ...}; throttling and unavailability are
       * worth another attempt.  */
      const cJSON *m = cJSON_GetObjectItemCaseSensitive (doc, "message");
      const char *type = name + 1;
      s->events++;
      llm_stream_error (s, type, cJSON_IsString (m) ? m->valuestring : "",
                        strcasecmp (type, "throttlingException") == 0
                            || strcasecmp (type, "serviceUnavailableException") == 0
                            || strcasecmp (type, "internalServerException") == 0);
      cJSON_Delete (doc);
      return;
    }
  if (!cJSON_IsObject (doc))
    {
      s->malformed = true;
      cJSON_Delete (doc);
      return;
    }
  s->events++;
  if (strcmp (name, "contentBlockStart") == 0)
    {
      const cJSON *tu = cJSON_GetObjectItemCaseSensitive (
          cJSON_GetObjectItemCaseSensitive (doc, "start"), "toolUse");
      if (cJSON_IsObject (tu))
        take_tool_use (s, block_index (doc), tu);
    }
  else if (strcmp (name, "contentBlockDelta") == 0)
    {
      const cJSON *d = cJSON_GetObjectItemCaseSensitive (doc, "delta");
      const cJSON *text = cJSON_GetObjectItemCaseSensitive (d, "text");
      const cJSON *input = cJSON_GetObjectItemCaseSensitive (
          cJSON_GetObjectItemCaseSensitive (d, "toolUse"), "input");
      if (cJSON_IsString (text))
        llm_text (s, text->valuestring, strlen (text->valuestring));
      else if (cJSON_IsString (input))
        llm_tool_args (s, llm_tool (s, block_index (doc)), input->valuestring,
                       strlen (input->valuestring));
    }
  else if (strcmp (name, "messageStop") == 0)
    {
      const cJSON *stop = cJSON_GetObjectItemCaseSensitive (doc, "stopReason");
      if (cJSON_IsString (stop))
        llm_finish (s, finish_reason (stop->valuestring));
      s->completed = true;
    }
  else if (strcmp (name, "metadata") == 0)
    take_usage (s, cJSON_GetObjectItemCaseSensitive (doc, "usage"));
  /* messageStart, contentBlockStop: nothing to take.  */
  cJSON_Delete (doc);
}

static void
body (struct llm_stream *s, const cJSON *doc)
{
  const cJSON *content = cJSON_GetObjectItemCaseSensitive (
      cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (doc, "output"),
                                        "message"),
      "content");
  const cJSON *stop = cJSON_GetObjectItemCaseSensitive (doc, "stopReason");
  const cJSON *b;
  long i = 0;

  if (!cJSON_IsArray (content))
    {
      s->malformed = true;
      return;
    }
  cJSON_ArrayForEach (b, content)
  {
    const cJSON *text = cJSON_GetObjectItemCaseSensitive (b, "text");
    const cJSON *tu = cJSON_GetObjectItemCaseSensitive (b, "toolUse");
    if (cJSON_IsString (text))
      llm_text (s, text->valuestring, strlen (text->valuestring));
    else if (cJSON_IsObject (tu))
      take_tool_use (s, i, tu);
    i++;
  }
  if (cJSON_IsString (stop))
    llm_finish (s, finish_reason (stop->valuestring));
  take_usage (s, cJSON_GetObjectItemCaseSensitive (doc, "usage"));
}

const struct llm_provider llm_bedrock = {
  .name = "bedrock",
  .answer = "a Bedrock Converse answer",
  .framing = LLM_EVENTSTREAM,
  .build = build,
  .event = event,
  .body = body,
};
