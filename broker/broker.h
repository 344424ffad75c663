/* The broker: the host side of the socketpair.  One event loop serves the
 * VM's requests (events, tools, approvals, checkpoints, model calls),
 * enforces the policy, streams the trace, keeps the deadline and forwards
 * SIGINT/SIGTERM.  Protocol: docs/protocol.md.  */
#ifndef TR_BROKER_H
#define TR_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/error.h"
#include "policy/policy.h"

struct cJSON;
struct trace;
struct checkpoint_store;
struct egress_rules;
struct config_mcp_server;

enum broker_approve
{
  APPROVE_ASK = 0, /* prompt on the TTY; pause the run when there is none */
  APPROVE_ALL,
  APPROVE_NONE,
};

enum broker_storage
{
  STORAGE_MEMORY = 0,
  STORAGE_FILE,
};

/* The VM's files (File.*, tactus.io.*): the broker opens them beneath the
 * workspace and hands the VM the open descriptor (broker/workspace.c,
 * docs/protocol.md "Files").  The mode is enforced here, in one place.  */
enum broker_ws_mode
{
  BROKER_WS_RW = 0,
  BROKER_WS_RO,      /* reads only: every write is PermissionDenied */
  BROKER_WS_OVERLAY, /* writes kept in the broker's memory for this run, never on the host */
  BROKER_WS_OFF,     /* no workspace: every fs.* method is refused */
};

/* A host directory seen at TARGET beneath the workspace (config
 * sandbox.volumes with a target under /workspace).  */
struct broker_volume
{
  const char *source;
  const char *target; /* relative to the workspace: "data", "vol/x" */
  bool writable;
};

struct broker_workspace_spec
{
  const char *dir; /* host directory (a path; "/proc/self/fd/N" works), unused when off */
  enum broker_ws_mode mode;
  const struct broker_volume *volumes;
  size_t n_volumes;
  const char *const *protected_paths; /* NULL: protected_defaults (common/protected.h) */
  uint64_t overlay_bytes;             /* overlay mode: what the run may write in all (0: 64 MiB) */
};

/* Opened before the VM starts (so a missing directory is a clear error
 * before anything runs), served by broker_serve, closed after it (what a
 * run left half-written is removed then).  */
struct broker_workspace;
int broker_workspace_open (const struct broker_workspace_spec *spec, struct broker_workspace **out,
                           struct tr_error *err);
void broker_workspace_close (struct broker_workspace *ws);
/* The owner of the workspace directory (as the sandbox would map its root
 * to); false when there is none (off).  */
bool broker_workspace_owner (const struct broker_workspace *ws, uid_t *uid, gid_t *gid);

/* A model provider's endpoint from trusted config (providers: NAME:
 * {base_url, api, region, api_key_env}); NAME is a built-in provider
 * (openai, anthropic, google, bedrock) or a new prefix for an
 * OpenAI-compatible server (ollama/..., vllm/...).  */
struct broker_endpoint
{
  const char *name;
  const char *base_url;    /* NULL: the provider's own (or its environment variable) */
  const char *api;         /* for a new name: openai (the only choice) */
  const char *region;      /* bedrock */
  const char *api_key_env; /* the host variable holding its key, or NULL */
};

struct broker_options
{
  const char *procedure_path;         /* the .tac as given */
  const char *procedure_dir;          /* host directory local modules are read from */
  struct broker_workspace *workspace; /* the VM's files; NULL: none (fs.* refused) */
  const char *procedure_name;
  struct cJSON *params; /* object of --param values (strings), owned by the caller */
  /* Extra fields for the run.start reply (e.g. mode = "scenario" for
   * `tactus-run test`), owned by the caller; NULL for a plain run.  */
  struct cJSON *start_extra;
  bool mock_all;
  enum broker_storage storage;
  const char *storage_dir;        /* STORAGE_FILE: where the records are, for messages */
  struct checkpoint_store *store; /* STORAGE_FILE: broker/checkpoint_store.h */
  /* STORAGE_FILE: the record read and verified before the sandbox
   * started (so a forged one stops the run before it begins), or NULL.  */
  const struct cJSON *stored;
  enum broker_approve approve;
  bool approve_set; /* --approve given: overrides the policy */
  const struct policy *policy;
  struct trace *trace;
  int max_violations;       /* protocol violations before the sandbox is killed */
  const char *llm_base_url; /* OpenAI-compatible endpoint, e.g. https://api.openai.com/v1 */
  double llm_timeout;       /* seconds per model call */
  const struct broker_endpoint *endpoints; /* per-provider settings from config */
  size_t n_endpoints;
  const char *aws_region;      /* config aws.default_region (Bedrock), or NULL */
  const char *aws_profile;     /* config aws.profile, or NULL */
  const char *price_overrides; /* config model_prices as JSON text, or NULL */
  /* Reads a secret (an API key) from host config by its dotted key
   * ("anthropic_api_key", "aws.secret_access_key"), called only when a
   * model call is made (after the sandbox exists).  Returns a malloc'd
   * string or NULL.  */
  char *(*secret_reader) (const char *procedure_path, const char *key);
  /* Egress (sandbox.network): the rules for caged MCP servers and the Http
   * primitive; NULL or empty: no egress.  */
  const struct egress_rules *egress;
  /* MCP servers (mcp_servers in config), started on first use.  */
  const struct config_mcp_server *mcp_servers;
  size_t n_mcp_servers;
  /* The run's workspace on the host (for an MCP server given workspace:),
   * NULL: the current directory.  */
  const char *workspace_dir;
  double grace_seconds; /* after a forwarded SIGINT/SIGTERM, before SIGKILL */
};

/* The process on the other end: a sandbox, or a plain child (--no-sandbox).  */
struct broker_peer
{
  int fd;    /* our end of the socketpair */
  int pidfd; /* readable when the peer has exited; -1: use the socket's EOF */
  pid_t pid; /* its pid (to share a CPU with it), or 0 */
  void *ctx;
  int (*ms_left) (void *ctx);           /* deadline, -1 for none */
  void (*kill) (void *ctx);             /* SIGKILL everything */
  int (*signal) (void *ctx, int signo); /* forward a signal to PID 1 */
};

struct broker_outcome
{
  char status[32];      /* success, error, waiting, interrupted, timeout, oom, ... */
  struct cJSON *finish; /* the run.finish params, or NULL if none came */
  bool timed_out;
  bool interrupted;
  int stop_signal; /* SIGINT or SIGTERM when interrupted */
  int violations;
  bool killed_for_violations;
  char violation[200]; /* the last violation, for the run's message */
  long requests;
  /* Model usage this run (llm.chat), for the execution summary.  */
  int llm_calls;
  long prompt_tokens, completion_tokens, total_tokens;
};

/* `tactus-run answer`: record ANSWER for the request the paused run in
 * STORE waits for; its question in QUESTION.  */
int storage_answer (struct checkpoint_store *store, const char *answer, char *question,
                    size_t qsize, struct tr_error *err);

int broker_serve (const struct broker_options *o, struct broker_peer *peer,
                  struct broker_outcome *out, struct tr_error *err);
void broker_outcome_free (struct broker_outcome *out);

#endif
