/* Configuration: Tactus's YAML config files, layered, validated once and
 * turned into plain values the CLI maps onto a sandbox spec and a broker.
 *
 * Layers, later ones winning: /etc/tactus/config.yml, ~/.tactus/config.yml,
 * ./.tactus/config.yml, the sidecar NAME.tac.yml, then CLI flags.  Scalars
 * override, lists concatenate, maps merge.  An invalid value is an error
 * naming the file, the line and the key.  */
#ifndef TR_CONFIG_H
#define TR_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
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
  struct policy policy;
  char **files; /* the config files that were read, for messages */
};

/* Read every layer that exists for the procedure at TAC_PATH (NULL: no
 * procedure, so no sidecar).  */
int config_load (struct tr_config *c, const char *tac_path, struct tr_error *err);
/* Parse one YAML document (for tests and the fuzzer): NAME is used in messages.  */
int config_load_text (struct tr_config *c, const char *name, const char *text, size_t len,
                      struct tr_error *err);
void config_init (struct tr_config *c);
void config_free (struct tr_config *c);

/* The host config's openai_api_key, read only when the broker needs it
 * (after the sandbox exists).  A malloc'd string, or NULL.  */
char *config_read_openai_key (const char *tac_path);

/* True for environment variable names that hold provider secrets.  */
bool config_is_secret_env (const char *name);

#endif
