/* A YAML document as a small tree (maps, sequences, scalars), each node
 * remembering its file and line for error messages.  Built with libyaml's
 * event parser; anchors and aliases are refused (no billion laughs), depth
 * and size are bounded.  Values of secret keys (API keys) are never kept:
 * they are wiped from libyaml's buffers and stored as "<redacted>".  */
#ifndef TR_YAML_TREE_H
#define TR_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

enum ynode_type
{
  YNODE_SCALAR,
  YNODE_MAP,
  YNODE_SEQ,
};

struct ynode
{
  enum ynode_type type;
  char *key;   /* set for the values of a map */
  char *value; /* scalars */
  bool quoted; /* the scalar was quoted: "true" is a string, not a boolean */
  const char *file;
  int line;
  int key_line; /* the line of the key, for the values of a map */
  struct ynode *child, *last, *next;
};

/* Parse TEXT (named FILE in messages; FILE must outlive the tree).  An
 * empty document gives an empty map.  */
struct ynode *ytree_parse (const char *file, const char *text, size_t len, struct tr_error *err);
/* The same, keeping secret values (only for the broker, after the fork).  */
struct ynode *ytree_parse_secrets (const char *file, const char *text, size_t len,
                                   struct tr_error *err);
/* Merge SRC into DST (both maps): scalars override, lists concatenate,
 * maps merge.  SRC is consumed.  */
void ytree_merge (struct ynode *dst, struct ynode *src);
struct ynode *ytree_get (const struct ynode *map, const char *key);
void ytree_free (struct ynode *n);

bool ytree_is_secret_key (const char *key);

#endif
