/* Fuzz the broker's handling of what the (untrusted) VM sends: frames are
 * decoded with frame_asm_feed and each complete message goes through
 * broker_handle_message, the same JSON validation and dispatch as
 * broker_serve.  The peer is a real SEQPACKET socketpair whose other end a
 * thread drains: it reassembles the replies and checks them (below); after
 * each input the harness waits until every reply of that input was read.
 *
 * The broker is set up harmlessly but with every method reachable:
 *   - a policy with the built-in host tools only (host.ping, host.echo;
 *     host.time needs an approval; host.nothing is listed but has no
 *     command and is no built-in), two stages, never a command tool, so no
 *     host program ever runs whatever the input says;
 *   - a model allowlist (gpt-4o-mini, openai/gpt-test) and a token budget,
 *     so llm.chat gets past its checks into request building (build_body)
 *     and response parsing.  libcurl is never loaded: the harness defines
 *     curl_lazy_load (broker/curl_lazy.c, the broker's only way to libcurl,
 *     is left out of the link) and answers with a fake curl_api whose
 *     easy_perform checks the request and plays a response from the input.
 *     Nothing reaches the network (the base URL is a closed 127.0.0.1 port
 *     besides).  usleep is the harness's too: the retry back-off (429/5xx)
 *     does not sleep;
 *   - approvals answered from --approve (none, or all with flag bit 2),
 *     never a terminal; checkpoints in memory, the trace to /dev/null,
 *     local modules from a scratch directory;
 *   - the VM's files (fs.*): a fresh workspace on the same scratch
 *     directory for each input, in overlay mode (writes stay in memfds:
 *     nothing is written to disk whatever the input) or, with flag bit 4,
 *     read-only; the replies' descriptors are taken and closed by the
 *     reader.
 *
 * Input: byte 0 is flags
 *   bit 0  JSON mode: the rest is lines separated by '\n'.  A line that
 *          starts with '<' is a model response for the fake libcurl (queued,
 *          played in order by the next model calls, one per HTTP attempt):
 *            '<' SSS C BODY   SSS three digits, the HTTP status ("000": no
 *                             response, a curl error, C picks which);
 *                             C: BODY is delivered in chunks of (C % 64) + 1
 *                             bytes (C odd: in one piece);
 *                             BODY: byte 0x1e stands for '\n', "@KEY@" for
 *                             the API key (a server echoing it)
 *          (a call with no response left gets a short valid completion).
 *          Any other line is a message, framed properly by the harness
 *          (split into 64 KiB packets).
 *          Otherwise: raw packets, each with a 2-byte little-endian length
 *   bit 1  start with a valid run.start (so later requests get past it)
 *   bit 2  --approve all (else --approve none)
 *   bit 3  libcurl cannot be loaded (the ConnectionError path)
 *   bit 4  the workspace is read-only (else an overlay)
 * Each input is a fresh broker_state (a fresh run).
 *
 * Invariants: the violation count and the kill decision agree; every model
 * request is a POST of a JSON object to BASE/chat/completions (or
 * BASE/responses for model_type = "responses") with the allowlisted
 * fields only, the model without its "openai/" prefix, stream
 * and Accept agreeing, max_tokens within the remaining budget, the key in
 * the Authorization header; no model-call error sent to the VM contains
 * the API key (the broker redacts what servers echo; every response body
 * may hold the key, "@KEY@").  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/curl_lazy.h"
#include "broker/internal.h"
#include "broker/trace.h"
#include "common/frame.h"
#include "policy/policy.h"

#define CHECK(cond)                                                                                \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          fprintf (stderr, "fuzz_broker: invariant failed: %s (line %d)\n", #cond, __LINE__);      \
          abort ();                                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

#define API_KEY "sk-fuzz-7f3a9c1e5b2d4068"
#define BASE_URL "http://127.0.0.1:9/v1" /* closed: never contacted anyway */
#define MAX_TOKENS 5000

static int sv[2] = { -1, -1 };
static struct broker_options opts;
static struct broker_peer peer;
static struct policy pol;
static struct trace tr;
static int kills;

/* ---- the policy: built-in host tools only, allowlisted models ---------------------------- */

static char *models[] = { "gpt-4o-mini", "openai/gpt-test", NULL };
static struct policy_tool tools[] = {
  { .name = "host.ping" },
  { .name = "host.echo" },
  { .name = "host.time", .approval = true },
  { .name = "host.nothing" }, /* listed, no command, not a built-in */
};
static char *gather_tools[] = { "host.ping", "host.echo", "host.time", "host.nothing", NULL };
static char *report_tools[] = { "host.echo", NULL };
static struct policy_stage stages[] = {
  { .name = "gather", .tools = gather_tools },
  { .name = "report", .tools = report_tools },
};

/* ---- the peer ---------------------------------------------------------------------------- */

static void
peer_kill (void *ctx)
{
  (void) ctx;
  kills++;
}

static int
peer_signal (void *ctx, int sig)
{
  (void) ctx;
  (void) sig;
  return 0;
}

static int
peer_ms_left (void *ctx)
{
  (void) ctx;
  return -1;
}

/* The reader of the VM's end.  A packet "\xffSYNC" (no frame: sent by the
 * harness itself after an input) means every reply before it was read.  */
static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sync_cond = PTHREAD_COND_INITIALIZER;
static unsigned long syncs_seen;
static const char sync_pkt[] = "\xffSYNC";

/* The errors of a model call: their messages quote what the server sent
 * (and names the VM cannot choose: an allowlisted model, the base URL).  A
 * server may echo the key (a proxy's "invalid key sk-..."): the broker
 * redacts it, so it never reaches the VM in one of these.  (Other errors
 * may quote the VM's own words, so a VM that knows the key could put it
 * there itself.)  */
static bool
is_model_error (const char *type)
{
  static const char *const types[] = { "AuthenticationError", "UnknownModel",     "ModelError",
                                       "MalformedResponse",   "ResponseTooLarge", NULL };
  for (const char *const *t = types; *t; t++)
    if (strcmp (*t, type) == 0)
      return true;
  return false;
}

static void
check_reply (const char *msg, size_t len)
{
  cJSON *doc;
  const cJSON *ev, *type;

  if (memmem (msg, len, API_KEY, sizeof API_KEY - 1) == NULL)
    return;
  doc = cJSON_ParseWithLength (msg, len);
  CHECK (doc != NULL);
  ev = cJSON_GetObjectItemCaseSensitive (doc, "event");
  type = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (doc, "error"), "type");
  if (cJSON_IsString (ev) && strcmp (ev->valuestring, "error") == 0 && cJSON_IsString (type)
      && is_model_error (type->valuestring))
    {
      fprintf (stderr, "fuzz_broker: the API key reached the VM in an error: %.300s\n", msg);
      abort ();
    }
  cJSON_Delete (doc);
}

static void *
drain (void *arg)
{
  static uint8_t buf[FRAME_MAX_PACKET + 1];
  struct frame_asm a = { 0 };
  struct tr_error err;

  (void) arg;
  a.accept_fd = true;
  for (;;)
    {
      struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
      union
      {
        char c[CMSG_SPACE (sizeof (int) * 4)];
        struct cmsghdr align;
      } u;
      struct msghdr mh
          = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.c, .msg_controllen = sizeof u.c };
      int fd = -1, nfds = 0;
      ssize_t n = recvmsg (sv[1], &mh, MSG_CMSG_CLOEXEC);
      if (n < 0)
        {
          usleep (1000);
          continue;
        }
      for (struct cmsghdr *c = CMSG_FIRSTHDR (&mh); c; c = CMSG_NXTHDR (&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
          for (size_t k = 0; k < (c->cmsg_len - CMSG_LEN (0)) / sizeof (int); k++, nfds++)
            {
              int one;
              memcpy (&one, CMSG_DATA (c) + k * sizeof (int), sizeof one);
              if (fd < 0)
                fd = one;
              else
                close (one);
            }
      /* The broker sends at most one descriptor, with a reply's last packet.  */
      CHECK (nfds <= 1);
      if ((size_t) n == sizeof sync_pkt - 1 && memcmp (buf, sync_pkt, (size_t) n) == 0)
        {
          if (fd >= 0)
            close (fd);
          frame_asm_reset (&a);
          pthread_mutex_lock (&sync_lock);
          syncs_seen++;
          pthread_cond_signal (&sync_cond);
          pthread_mutex_unlock (&sync_lock);
          continue;
        }
      /* The broker only ever sends well-formed frames.  */
      int r = frame_asm_feed_fd (&a, buf, (size_t) n, nfds, fd, &err);
      CHECK (r != -1);
      if (r == FRAME_COMPLETE)
        {
          check_reply (a.buf, a.len);
          frame_asm_reset (&a); /* closes the descriptor, if one came */
        }
    }
  return NULL;
}

static void
wait_for_replies (void)
{
  static unsigned long syncs_sent;

  CHECK (send (sv[0], sync_pkt, sizeof sync_pkt - 1, 0) == (ssize_t) (sizeof sync_pkt - 1));
  syncs_sent++;
  pthread_mutex_lock (&sync_lock);
  while (syncs_seen < syncs_sent)
    pthread_cond_wait (&sync_cond, &sync_lock);
  pthread_mutex_unlock (&sync_lock);
}

/* ---- the fake libcurl ---------------------------------------------------------------------- */

struct response
{
  int status;          /* 0: a curl error */
  unsigned char chunk; /* see the header */
  const char *body;
  size_t len;
};

#define MAX_RESPONSES 32
static struct response responses[MAX_RESPONSES];
static size_t n_responses, next_response;
static bool no_curl;
static unsigned long model_calls, retry_sleeps;
static const struct broker_state *current; /* the run being fuzzed */

struct fake_easy
{
  const char *url, *body;
  struct curl_slist *headers;
  curl_write_callback write;
  void *write_data;
  curl_xferinfo_callback progress;
  void *progress_data;
  long status;
};

/* The retry back-off's sleep (llm.c); the drain thread's too.  */
int
usleep (useconds_t us)
{
  (void) us;
  retry_sleeps++;
  sched_yield ();
  return 0;
}

static CURL *
fake_init (void)
{
  return calloc (1, sizeof (struct fake_easy));
}

static CURLcode
fake_setopt (CURL *curl, CURLoption opt, ...)
{
  struct fake_easy *e = curl;
  va_list ap;

  va_start (ap, opt);
  switch (opt)
    {
    case CURLOPT_URL:
      e->url = va_arg (ap, const char *);
      break;
    case CURLOPT_POSTFIELDS:
      e->body = va_arg (ap, const char *);
      break;
    case CURLOPT_HTTPHEADER:
      e->headers = va_arg (ap, struct curl_slist *);
      break;
    case CURLOPT_WRITEFUNCTION:
      e->write = va_arg (ap, curl_write_callback);
      break;
    case CURLOPT_WRITEDATA:
      e->write_data = va_arg (ap, void *);
      break;
    case CURLOPT_XFERINFOFUNCTION:
      e->progress = va_arg (ap, curl_xferinfo_callback);
      break;
    case CURLOPT_XFERINFODATA:
      e->progress_data = va_arg (ap, void *);
      break;
    case CURLOPT_FOLLOWLOCATION:
      CHECK (va_arg (ap, long) == 0);
      break;
    default:
      break;
    }
  va_end (ap);
  return CURLE_OK;
}

static const char *
header (const struct fake_easy *e, const char *name)
{
  size_t n = strlen (name);

  for (const struct curl_slist *h = e->headers; h; h = h->next)
    if (strncasecmp (h->data, name, n) == 0 && h->data[n] == ':')
      return h->data + n + 1 + (h->data[n + 1] == ' ');
  return NULL;
}

/* What the broker may send a model server.  */
static bool
check_request (const struct fake_easy *e)
{
  static const char *const allowed[]
      = { "model",           "messages", "tools",      "tool_choice", "temperature",    "top_p",
          "response_format", "stop",     "max_tokens", "stream",      "stream_options", NULL };
  cJSON *body;
  const cJSON *k, *model, *stream, *mt;
  const char *accept, *auth;
  bool streaming;

  static const char *const allowed_responses[]
      = { "model", "instructions",      "input",  "tools", "tool_choice", "temperature",
          "top_p", "max_output_tokens", "stream", "store", NULL };
  bool resp_api;

  CHECK (e->url != NULL);
  /* model_type = "responses": OpenAI's Responses API, its own fields.  */
  resp_api = strcmp (e->url, BASE_URL "/responses") == 0;
  CHECK (resp_api || strcmp (e->url, BASE_URL "/chat/completions") == 0);
  CHECK (e->write != NULL && e->progress != NULL);
  CHECK (e->body != NULL); /* the key goes in a header (the fields are checked below) */
  body = cJSON_Parse (e->body);
  CHECK (cJSON_IsObject (body));
  cJSON_ArrayForEach (k, body)
  {
    const char *const *a = resp_api ? allowed_responses : allowed;
    while (*a && strcmp (*a, k->string) != 0)
      a++;
    CHECK (*a != NULL);
  }
  model = cJSON_GetObjectItemCaseSensitive (body, "model");
  CHECK (cJSON_IsString (model) && strncmp (model->valuestring, "openai/", 7) != 0);
  CHECK (strcmp (model->valuestring, "gpt-4o-mini") == 0
         || strcmp (model->valuestring, "gpt-test") == 0);
  CHECK (cJSON_IsArray (cJSON_GetObjectItemCaseSensitive (body, resp_api ? "input" : "messages")));
  stream = cJSON_GetObjectItemCaseSensitive (body, "stream");
  CHECK (cJSON_IsBool (stream));
  streaming = cJSON_IsTrue (stream);
  CHECK (resp_api
         || streaming == (cJSON_GetObjectItemCaseSensitive (body, "stream_options") != NULL));
  mt = cJSON_GetObjectItemCaseSensitive (body, resp_api ? "max_output_tokens" : "max_tokens");
  /* The policy has a budget: every request is capped by what is left.  */
  CHECK (current->tokens_used < MAX_TOKENS);
  CHECK (cJSON_IsNumber (mt) && mt->valuedouble <= (double) (MAX_TOKENS - current->tokens_used));
  accept = header (e, "Accept");
  CHECK (accept != NULL
         && strcmp (accept, streaming ? "text/event-stream" : "application/json") == 0);
  auth = header (e, "Authorization");
  CHECK (auth != NULL && strcmp (auth, "Bearer " API_KEY) == 0);
  cJSON_Delete (body);
  return streaming;
}

static CURLcode
deliver (struct fake_easy *e, const char *data, size_t len, size_t chunk)
{
  size_t off = 0;

  while (off < len)
    {
      size_t n = len - off < chunk ? len - off : chunk;
      char *copy = malloc (n); /* exact size: a read past the chunk is caught by ASan */
      size_t took;
      CHECK (copy != NULL);
      memcpy (copy, data + off, n);
      took = e->write (copy, 1, n, e->write_data);
      free (copy);
      if (took != n)
        return CURLE_WRITE_ERROR;
      off += n;
    }
  return CURLE_OK;
}

static CURLcode
fake_perform (CURL *curl)
{
  static const char sse_ok[]
      = "data: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"total_tokens\":3}}\n\ndata: [DONE]\n\n";
  static const char json_ok[] = "{\"choices\":[{\"message\":{\"content\":\"ok\"}}],"
                                "\"usage\":{\"total_tokens\":3}}";
  struct fake_easy *e = curl;
  bool streaming = check_request (e);
  struct response r;
  char *body, *p;
  size_t len = 0, chunk;
  CURLcode cc;

  model_calls++;
  if (next_response < n_responses)
    r = responses[next_response++];
  else
    r = (struct response){ 200, 1, streaming ? sse_ok : json_ok,
                           streaming ? sizeof sse_ok - 1 : sizeof json_ok - 1 };
  if (e->progress (e->progress_data, 0, 0, 0, 0) != 0)
    return CURLE_ABORTED_BY_CALLBACK;
  if (r.status == 0)
    {
      static const CURLcode errors[]
          = { CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_RECV_ERROR, CURLE_GOT_NOTHING,
              CURLE_SSL_CONNECT_ERROR };
      return errors[r.chunk % (sizeof errors / sizeof errors[0])];
    }
  /* The body as sent: 0x1e is '\n', "@KEY@" the key.  */
  body = malloc (r.len * (sizeof API_KEY) + 1);
  CHECK (body != NULL);
  for (size_t i = 0; i < r.len; i++)
    {
      if (r.len - i >= 5 && memcmp (r.body + i, "@KEY@", 5) == 0)
        {
          memcpy (body + len, API_KEY, sizeof API_KEY - 1);
          len += sizeof API_KEY - 1;
          i += 4;
        }
      else
        body[len++] = r.body[i] == 0x1e ? '\n' : r.body[i];
    }
  p = body;
  chunk = (r.chunk & 1) ? (len ? len : 1) : (size_t) (r.chunk % 64) + 1;
  cc = deliver (e, p, len, chunk);
  free (body);
  e->status = r.status;
  return cc;
}

static CURLcode
fake_getinfo (CURL *curl, CURLINFO info, ...)
{
  struct fake_easy *e = curl;
  va_list ap;

  va_start (ap, info);
  CHECK (info == CURLINFO_RESPONSE_CODE);
  *va_arg (ap, long *) = e->status;
  va_end (ap);
  return CURLE_OK;
}

static void
fake_cleanup (CURL *curl)
{
  free (curl);
}

static const char *
fake_strerror (CURLcode cc)
{
  return cc == CURLE_OK ? "no error" : "a fake libcurl error";
}

static struct curl_slist *
fake_slist_append (struct curl_slist *list, const char *s)
{
  struct curl_slist *n = calloc (1, sizeof *n), **end = &list;

  CHECK (n != NULL && (n->data = strdup (s)) != NULL);
  while (*end)
    end = &(*end)->next;
  *end = n;
  return list;
}

static void
fake_slist_free_all (struct curl_slist *list)
{
  while (list)
    {
      struct curl_slist *next = list->next;
      explicit_bzero (list->data, strlen (list->data));
      free (list->data);
      free (list);
      list = next;
    }
}

static const struct curl_api fake_api = {
  .easy_init = fake_init,
  .easy_setopt = fake_setopt,
  .easy_perform = fake_perform,
  .easy_getinfo = fake_getinfo,
  .easy_cleanup = fake_cleanup,
  .easy_strerror = fake_strerror,
  .slist_append = fake_slist_append,
  .slist_free_all = fake_slist_free_all,
};

/* Replaces broker/curl_lazy.c (not linked into this harness).  */
const struct curl_api *
curl_lazy_load (char *why, size_t size)
{
  if (no_curl)
    {
      snprintf (why, size, "cannot load libcurl.so.4 (the fuzz harness says so)");
      return NULL;
    }
  return &fake_api;
}

/* ---- set-up ------------------------------------------------------------------------------- */

static char dir[] = "/tmp/fuzz_broker.XXXXXX";

static void
cleanup (void)
{
  static const char *const files[]
      = { "m.tac", "sub/n.tac", "lnk", "f.txt", ".git/config", ".git", "sub" };
  char path[256];

  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    {
      snprintf (path, sizeof path, "%s/%s", dir, files[i]);
      if (unlink (path) < 0)
        rmdir (path);
    }
  rmdir (dir);
}

static void
setup (void)
{
  char path[256];
  pthread_t t;
  FILE *f;

  CHECK (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
  CHECK (pthread_create (&t, NULL, drain, NULL) == 0);
  CHECK (mkdtemp (dir) != NULL);
  atexit (cleanup);
  snprintf (path, sizeof path, "%s/m.tac", dir);
  f = fopen (path, "w");
  CHECK (f != NULL);
  fputs ("return { answer = 42 }\n", f);
  fclose (f);
  snprintf (path, sizeof path, "%s/sub", dir);
  mkdir (path, 0755);
  snprintf (path, sizeof path, "%s/sub/n.tac", dir);
  f = fopen (path, "w");
  CHECK (f != NULL);
  fputs ("return 'n'\n", f);
  fclose (f);
  snprintf (path, sizeof path, "%s/lnk", dir);
  if (symlink ("/etc", path) < 0)
    perror ("fuzz_broker: symlink");
  snprintf (path, sizeof path, "%s/f.txt", dir);
  f = fopen (path, "w");
  CHECK (f != NULL);
  fputs ("a file\n", f);
  fclose (f);
  snprintf (path, sizeof path, "%s/.git", dir);
  mkdir (path, 0755);
  snprintf (path, sizeof path, "%s/.git/config", dir);
  f = fopen (path, "w");
  CHECK (f != NULL);
  fputs ("[core]\n", f);
  fclose (f);

  /* The broker reads the key from the host environment at each call.  */
  CHECK (setenv ("OPENAI_API_KEY", API_KEY, 1) == 0);
  pol.tools = tools;
  pol.n_tools = sizeof tools / sizeof tools[0];
  pol.stages = stages;
  pol.n_stages = sizeof stages / sizeof stages[0];
  pol.approve_default = -1;
  pol.models = models;
  pol.max_tokens = MAX_TOKENS;
  tr.jsonl = fopen ("/dev/null", "w");
  opts.procedure_path = "fuzz.tac";
  opts.procedure_dir = dir;
  opts.procedure_name = "fuzz";
  opts.params = cJSON_Parse ("{\"name\":\"fuzz\"}");
  opts.storage = STORAGE_MEMORY;
  opts.approve = APPROVE_NONE;
  opts.approve_set = true;
  opts.policy = &pol;
  opts.trace = &tr;
  opts.max_violations = 16;
  opts.llm_base_url = BASE_URL;
  opts.llm_timeout = 1;
  opts.grace_seconds = 0;
  peer.fd = sv[0];
  peer.pidfd = -1;
  peer.kill = peer_kill;
  peer.signal = peer_signal;
  peer.ms_left = peer_ms_left;
}

static void
feed (struct broker_state *b, struct frame_asm *a, const uint8_t *pkt, size_t n)
{
  struct tr_error err;
  int r = frame_asm_feed (a, pkt, n, &err);

  if (r < 0)
    broker_violation (b, NULL, err.msg); /* as broker_serve does */
  else if (r == FRAME_COMPLETE)
    {
      CHECK (a->len > 0 && a->len <= FRAME_MAX_MESSAGE && a->buf[a->len] == '\0');
      broker_handle_message (b, a->buf, a->len);
      frame_asm_reset (a);
    }
}

/* Frame MSG as frame_send does and feed the packets.  */
static void
feed_message (struct broker_state *b, struct frame_asm *a, const char *msg, size_t len)
{
  static uint8_t pkt[FRAME_MAX_PACKET];
  size_t off = 0;

  do
    {
      size_t chunk = len - off > FRAME_MAX_PAYLOAD ? FRAME_MAX_PAYLOAD : len - off;
      pkt[0] = 'T';
      pkt[1] = 1;
      pkt[2] = off + chunk < len ? FRAME_FLAG_MORE : 0;
      pkt[3] = 0;
      pkt[4] = (uint8_t) chunk;
      pkt[5] = (uint8_t) (chunk >> 8);
      pkt[6] = (uint8_t) (chunk >> 16);
      pkt[7] = (uint8_t) (chunk >> 24);
      memcpy (pkt + FRAME_HEADER, msg + off, chunk);
      feed (b, a, pkt, FRAME_HEADER + chunk);
      off += chunk;
    }
  while (off < len);
}

/* A '<' line: queue a model response.  */
static void
queue_response (const uint8_t *line, size_t n)
{
  struct response *r;

  if (n_responses == MAX_RESPONSES)
    return;
  r = &responses[n_responses++];
  r->status = 200;
  r->chunk = 1;
  r->body = "";
  r->len = 0;
  if (n >= 4 && line[1] >= '0' && line[1] <= '9' && line[2] >= '0' && line[2] <= '9'
      && line[3] >= '0' && line[3] <= '9')
    r->status = (line[1] - '0') * 100 + (line[2] - '0') * 10 + (line[3] - '0');
  if (n >= 5)
    r->chunk = line[4];
  if (n > 5)
    {
      r->body = (const char *) line + 5;
      r->len = n - 5;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char start[] = "{\"id\":1,\"method\":\"run.start\",\"params\":{}}";
  struct broker_outcome out;
  struct broker_state b;
  struct frame_asm a = { 0 };
  size_t i = 1;

  if (size < 1)
    return 0;
  if (sv[0] < 0)
    setup ();
  memset (&out, 0, sizeof out);
  snprintf (out.status, sizeof out.status, "error");
  memset (&b, 0, sizeof b);
  b.o = &opts;
  b.peer = &peer;
  b.out = &out;
  current = &b;
  opts.approve = (data[0] & 4) ? APPROVE_ALL : APPROVE_NONE;
  no_curl = (data[0] & 8) != 0;
  n_responses = next_response = 0;
  {
    struct broker_workspace_spec ws = { .dir = dir,
                                        .mode = (data[0] & 16) ? BROKER_WS_RO : BROKER_WS_OVERLAY,
                                        .overlay_bytes = 1 << 20 };
    struct tr_error werr;
    CHECK (broker_workspace_open (&ws, &opts.workspace, &werr) == 0);
  }
  broker_storage_open (&b);

  if (data[0] & 2)
    feed_message (&b, &a, start, sizeof start - 1);
  if (data[0] & 1)
    {
      while (i < size)
        {
          const uint8_t *nl = memchr (data + i, '\n', size - i);
          size_t n = nl ? (size_t) (nl - (data + i)) : size - i;
          if (n > 0 && data[i] == '<')
            queue_response (data + i, n);
          else
            feed_message (&b, &a, (const char *) data + i, n);
          i += n + 1;
        }
    }
  else
    {
      while (i + 2 <= size)
        {
          size_t n = (size_t) data[i] | (size_t) data[i + 1] << 8;
          i += 2;
          if (n > size - i)
            n = size - i;
          feed (&b, &a, data + i, n);
          i += n;
        }
    }

  CHECK (out.violations >= 0);
  CHECK (out.killed_for_violations == (out.violations >= opts.max_violations));
  broker_storage_close (&b);
  broker_outcome_free (&out);
  frame_asm_free (&a);
  wait_for_replies ();
  broker_workspace_close (opts.workspace);
  opts.workspace = NULL;
  return 0;
}
