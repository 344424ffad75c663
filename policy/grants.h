/* What a project-local config layer would grant.
 *
 * A layer nobody trusted may still restrict a run (lower a limit, make the
 * workspace read-only, allow fewer models); anything else it says is a
 * grant, and the run stops until the user trusts the layer's content
 * (policy/trust.h).  The rule is fail-closed: only the keys listed here as
 * restricting, with values that do not exceed what the trusted layers
 * (BASE: /etc/tactus, ~/.tactus, --config) give, pass; every other key —
 * host tools, volumes, env, base URLs, MCP servers, storage_path, keys
 * added after this list was written — is a grant.  */
#ifndef TR_GRANTS_H
#define TR_GRANTS_H

#include "policy/config.h"
#include "policy/yaml_tree.h"

/* TREE is one layer, LAYER the config it gives alone (already validated).
 * Each grant found is appended to *GRANTS as a short text such as
 * "policy.tools (host.run)" (key names from the file are shown escaped).
 * Returns how many, -1 when out of memory.  */
int config_grants (const struct ynode *tree, const struct tr_config *layer,
                   const struct tr_config *base, char ***grants);

#endif
