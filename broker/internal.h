#ifndef TR_BROKER_INTERNAL_H
#define TR_BROKER_INTERNAL_H

#include <sched.h>
#include <stdarg.h>
#include <stdint.h>

#include "broker/broker.h"
#include "common/frame.h"

struct cJSON;
struct egress;
struct mcp_server;
struct pollfd;

struct broker_affinity
{
  bool enabled;
  bool paired;        /* broker and VM pinned to one CPU */
  cpu_set_t original; /* the CPUs we may use */
  int count;          /* requests in the current window */
  int64_t window_start;
};

/* A reply packet the VM has not taken yet (its socket buffer was full).  */
struct broker_outpkt
{
  struct broker_outpkt *next;
  int fd; /* a descriptor that goes with it (SCM_RIGHTS), or -1 */
  size_t len;
  uint8_t data[];
};

/* Replies waiting for the VM to read them, counted with a per-packet
 * overhead: a VM that lets more pile up is killed (a protocol violation).
 * A well-behaved VM reads every reply to its one request in flight, so
 * this only bounds one request's replies: at most a few 8 MiB messages.  */
#define BROKER_OUTPKT_OVERHEAD 64
#define BROKER_MAX_OUTBOUND (3 * FRAME_MAX_MESSAGE)
/* Above this, streamed model text is no longer sent to a VM that lags
 * behind (the final reply carries the whole text; the trace gets every
 * piece).  */
#define BROKER_DELTA_BACKLOG (1 << 20)
/* Other fds the broker's loop watches: the egress events and MCP servers'
 * stderr.  */
#define BROKER_MAX_WATCH 33

struct broker_state
{
  const struct broker_options *o;
  struct broker_peer *peer;
  struct broker_outcome *out;
  struct cJSON *checkpoints; /* position -> {done, value, ...} */
  size_t checkpoint_bytes;   /* their size as JSON, bounded by BROKER_MAX_CHECKPOINT_BYTES */
  struct cJSON *pending;     /* the control request the run paused on, or NULL */
  char stage[128];           /* current stage, "" for none */
  bool started;
  bool finished;
  long tokens_used;           /* model tokens this run, for policy.max_tokens */
  struct broker_outpkt *outq; /* replies not yet sent, oldest first */
  struct broker_outpkt *outq_last;
  size_t outq_bytes; /* their size, with BROKER_OUTPKT_OVERHEAD each */
  bool out_closed;   /* the VM's end is gone or it was killed: replies are dropped */
  struct broker_affinity affinity;
  struct egress *egress;  /* the egress proxy, once a cage needed it */
  struct mcp_server *mcp; /* one per configured MCP server (started or not) */
  size_t n_mcp;
};

/* broker.c */
int broker_reply (struct broker_state *b, const struct cJSON *id, const char *event,
                  struct cJSON *data);
/* The same with a file descriptor for the VM (FD stays the caller's: it is
 * duplicated when the reply has to wait in the queue).  */
int broker_reply_fd (struct broker_state *b, const struct cJSON *id, const char *event,
                     struct cJSON *data, int fd);
int broker_reply_error (struct broker_state *b, const struct cJSON *id, const char *type,
                        const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));
void broker_violation (struct broker_state *b, const struct cJSON *id, const char *why);
/* Send what is queued for the VM without blocking; 0 when the queue is
 * empty, 1 when some is left (the VM's socket buffer is full).  */
int broker_flush (struct broker_state *b);
/* Drop what is queued (the VM is gone, or at the end of the run).  */
void broker_outq_free (struct broker_state *b);
/* One complete message from the VM (TEXT, LEN bytes): validate it as a
 * request and dispatch it, or count a violation.  (Also the fuzzer's entry,
 * tests/fuzz/fuzz_broker.c.)  */
void broker_handle_message (struct broker_state *b, const char *text, size_t len);

/* affinity.c: share a CPU with the VM while requests are frequent.  */
void broker_affinity_start (struct broker_state *b);
void broker_affinity_request (struct broker_state *b);
int broker_affinity_timeout (struct broker_state *b, int timeout);
void broker_affinity_tick (struct broker_state *b);

/* dispatch.c: one function per method.  */
void broker_dispatch (struct broker_state *b, const struct cJSON *id, const char *method,
                      const struct cJSON *params);

/* tools.c: host tools, deny by default.  */
void broker_tool_call (struct broker_state *b, const struct cJSON *id, const struct cJSON *params);
/* The policy's verdict on tool NAME (host.x or mcp.server.tool) called with
 * ARGS: its entry, or NULL after replying the error (not listed, the
 * stage, a denied approval).  WHAT names the kind in messages.  */
const struct policy_tool *broker_tool_allowed (struct broker_state *b, const struct cJSON *id,
                                               const char *name, const struct cJSON *args,
                                               const char *what);

/* mcp.c: MCP tool servers, each in its own cage, started on first use.  */
void broker_mcp_list (struct broker_state *b, const struct cJSON *id, const struct cJSON *params);
void broker_mcp_call (struct broker_state *b, const struct cJSON *id, const struct cJSON *params);
void broker_mcp_stop_all (struct broker_state *b);
/* The configured server names, for run.start.  */
struct cJSON *broker_mcp_names (const struct broker_state *b);

/* Egress for the broker's cages (MCP servers): serve LISTEN_FD through the
 * proxy, started on first use.  0, or -1 (the reason in the trace).  */
int broker_egress_serve (struct broker_state *b, int listen_fd, const char *label);
/* The fds the broker's loop watches besides the VM's (the egress events,
 * MCP servers' stderr), and what to do when they are ready.  */
int broker_watch_fds (struct broker_state *b, struct pollfd *p, int max);
void broker_watch_ready (struct broker_state *b, const struct pollfd *p, int n);

/* http.c: the Http primitive (http.request), under the egress rules.  */
void broker_http_request (struct broker_state *b, const struct cJSON *id,
                          const struct cJSON *params);

/* control.c: approvals and human input.  */
void broker_control_request (struct broker_state *b, const struct cJSON *id,
                             const struct cJSON *params);
/* Ask a yes/no question on the TTY or by policy; 1 yes, 0 no, -1 no one to ask.  */
int broker_approve (struct broker_state *b, const char *question);

/* llm.c: model calls (OpenAI-compatible, libcurl).  */
void broker_llm_chat (struct broker_state *b, const struct cJSON *id, const struct cJSON *params);

/* workspace.c: the VM's files (fs.* methods) and local modules.  */
void broker_fs (struct broker_state *b, const struct cJSON *id, const char *op,
                const struct cJSON *params);
void broker_module_load (struct broker_state *b, const struct cJSON *id,
                         const struct cJSON *params);

/* storage.c: checkpoints, in memory or in a file per procedure.  */
void broker_storage_open (struct broker_state *b);
/* The broker keeps every checkpoint in memory: a run cannot make it hold
 * more than this (each message is under 8 MiB, but there may be many).  */
#define BROKER_MAX_CHECKPOINT_BYTES (64 << 20)
/* 0, or -1 when the checkpoint would pass BROKER_MAX_CHECKPOINT_BYTES
 * (nothing is stored), or -2 (errno set) when file storage could not write
 * it to disk (it is kept in memory), or -3 when params.position is missing
 * or not a whole number from 1 to 10^6 (a protocol violation).  */
int broker_storage_save (struct broker_state *b, const struct cJSON *params);
/* Remember the request a paused run waits for (file storage only).  */
void broker_storage_pending (struct broker_state *b, const struct cJSON *request);
void broker_storage_close (struct broker_state *b);

#endif
