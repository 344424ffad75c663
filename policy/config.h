/* Configuration: Tactus's YAML config files, layered, validated once and
 * turned into plain values the CLI maps onto a sandbox spec and a broker.
 *
 * Layers, later ones winning: /etc/tactus/config.yml, ~/.tactus/config.yml,
 * ./.tactus/config.yml, the sidecar NAME.tac.yml, --config FILE, then CLI
 * flags.  Scalars override, lists concatenate, maps merge.  An invalid
 * value is an error naming the file, the line and the key.
 *
 * The two project-local layers (./.tactus/config.yml, the sidecar) may
 * have been written by a run or come with a cloned repository: each is
 * honoured only when it grants nothing (policy/grants.h) or the user
 * trusted its exact content (policy/trust.h); otherwise loading fails with
 * the file, what it grants and the `tactus-run trust` command.  API keys
 * are never read from them.  */
#ifndef TR_CONFIG_H
#define TR_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "policy/egress.h"
#include "policy/policy.h"

enum config_workspace
{
  CONFIG_WORKSPACE_RW = 0,
  CONFIG_WORKSPACE_RO,
  CONFIG_WORKSPACE_OFF,
  CONFIG_WORKSPACE_OVERLAY, /* seen as it is; writes stay in the sandbox's memory */
};

struct config_volume
{
  char *source; /* host path, resolved relative to the config file's directory */
  char *target; /* absolute path inside */
  bool writable;
};

/* What a run gets when no layer says otherwise.  */
#define CONFIG_DEFAULT_MEMORY (512ull << 20) /* the VM's memory */
#define CONFIG_DEFAULT_PIDS 16

/* providers: NAME: {base_url, api, region, api_key_env} (see broker.h's
 * struct broker_endpoint).  */
struct config_provider
{
  char *name;
  char *base_url;
  char *api;
  char *region;
  char *api_key_env;
};

/* mcp_servers: NAME: {command, args, env, cwd, sandbox, workspace, volumes,
 * timeout}.  Strings keep their ${VAR} references: they are expanded from
 * the host environment when the server starts (config_mcp_expand), after
 * the VM's sandbox exists, and env values (often secrets) are read then
 * too (config_read_mcp_env).  */
struct config_mcp_server
{
  char *name;
  char *command;
  char **args;
  char *cwd;
  bool sandbox;                    /* false: runs on the host, uncaged (a warning says so) */
  enum config_workspace workspace; /* the run's workspace in its cage; default off */
  struct config_volume *volumes;   /* more host paths in its cage */
  size_t n_volumes;
  double timeout; /* seconds per request; 0: 60 */
  int line;
  const char *file;
};

struct tr_config
{
  bool sandbox_enabled;
  enum config_workspace workspace;
  struct config_volume *volumes;
  size_t n_volumes;
  char **env;      /* NULL-terminated "KEY=VALUE" */
  uint64_t memory; /* bytes, 0: default */
  double cpus;
  uint64_t pids;
  double timeout; /* seconds, 0: none */
  bool jit;
  char *storage_dir;
  char *openai_base_url; /* no keys here: the broker reads keys itself */
  char *default_model;
  /* sandbox.protected_paths: the built-in list (common/protected.h) with
   * the entries the config adds, less those it removes; NULL when the
   * config says nothing (the built-in list).  NULL-terminated.  */
  char **protected_paths;
  struct config_provider *providers;
  size_t n_providers;
  char *aws_region;           /* aws.default_region (or aws.region, aws_region) */
  char *aws_profile;          /* aws.profile */
  char *model_prices;         /* model_prices as JSON text, or NULL */
  struct egress_rules egress; /* sandbox.network.allow / deny */
  struct config_mcp_server *mcp;
  size_t n_mcp;
  struct policy policy;
  char **files; /* the config files that were read, for messages */
  bool quiet;   /* no warnings: a pass that only validates or measures */
};

/* What a run's config is read for.  */
struct config_request
{
  const char *procedure; /* the .tac as given; NULL: no procedure, so no sidecar */
  /* Its bytes as the run will execute them (a trusted sidecar is bound to
   * them); NULL: read the file when a sidecar needs the check.  */
  const char *source;
  size_t source_len;
  const char *explicit_file; /* --config FILE (needs no trust), or NULL */
};

int config_load_request (struct tr_config *c, const struct config_request *req,
                         struct tr_error *err);
/* Every layer that exists for the procedure at TAC_PATH (NULL: none).  */
int config_load (struct tr_config *c, const char *tac_path, struct tr_error *err);
/* For `tactus-run trust`: validate the layer PATH holding TEXT and list
 * what it grants beyond /etc/tactus and ~/.tactus (policy/grants.h); the
 * count, or -1.  */
int config_layer_grants (const char *path, const char *text, size_t len, char ***grants,
                         struct tr_error *err);
/* Apply one parsed layer (policy/yaml_tree.h) to C (policy/layers.c).  */
struct ynode;
int config_apply_tree (struct tr_config *c, const struct ynode *root, struct tr_error *err);
/* Parse one YAML document (for tests and the fuzzer): NAME is used in messages.  */
int config_load_text (struct tr_config *c, const char *name, const char *text, size_t len,
                      struct tr_error *err);
void config_init (struct tr_config *c);
void config_free (struct tr_config *c);

/* A secret of the host config by its dotted key ("openai_api_key",
 * "aws.secret_access_key"), read only when the broker needs it (after the
 * sandbox exists), from the same layers config_load reads (the last one
 * that has it wins).  A malloc'd string, or NULL.  */
char *config_read_secret (const char *tac_path, const char *key);
char *config_read_openai_key (const char *tac_path);

/* Keys of Tactus's Docker sandbox that mean nothing here (ignored).  */
bool config_is_ignored_key (const char *key);
/* The env of MCP server NAME from the host config, read now with its
 * secrets, each "KEY=VALUE" with ${VAR} expanded from the host
 * environment; NULL-terminated, malloc'd (wipe before freeing:
 * config_wipe_strv).  */
char **config_read_mcp_env (const char *tac_path, const char *name);
/* TEXT with ${VAR} replaced by the host environment's value ("" when
 * unset), as Tactus does; malloc'd.  */
char *config_expand (const char *text);
void config_wipe_strv (char **v);

/* True for environment variable names that hold provider secrets.  */
bool config_is_secret_env (const char *name);

#endif
