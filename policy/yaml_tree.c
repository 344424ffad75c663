#define _GNU_SOURCE
#include "policy/yaml_tree.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 32
#define MAX_NODES 20000

struct builder
{
  yaml_parser_t parser;
  const char *file;
  int nodes;
  bool keep_secrets;
  struct tr_error *err;
};

bool
ytree_is_secret_key (const char *key)
{
  static const char *const suffixes[]
      = { "api_key", "_secret", "secret_access_key", "session_token", "password", "_token" };
  size_t klen;

  if (key == NULL)
    return false;
  klen = strlen (key);
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
    {
      size_t slen = strlen (suffixes[i]);
      if (klen >= slen && strcasecmp (key + klen - slen, suffixes[i]) == 0)
        return true;
    }
  return false;
}

static struct ynode *
new_node (struct builder *b, enum ynode_type type, int line)
{
  struct ynode *n;

  if (++b->nodes > MAX_NODES)
    {
      tr_fail (b->err, 0, "%s: more than %d YAML nodes", b->file, MAX_NODES);
      return NULL;
    }
  n = calloc (1, sizeof *n);
  if (n == NULL)
    {
      tr_fail (b->err, 0, "%s: out of memory", b->file);
      return NULL;
    }
  n->type = type;
  n->file = b->file;
  n->line = line;
  return n;
}

static void
append (struct ynode *parent, struct ynode *child)
{
  if (parent->last)
    parent->last->next = child;
  else
    parent->child = child;
  parent->last = child;
}

static int
next_event (struct builder *b, yaml_event_t *ev)
{
  if (!yaml_parser_parse (&b->parser, ev))
    return tr_fail (b->err, 0, "%s:%zu: YAML syntax error: %s", b->file,
                    b->parser.problem_mark.line + 1, b->parser.problem ? b->parser.problem : "?");
  if (ev->type == YAML_ALIAS_EVENT)
    {
      int line = (int) ev->start_mark.line + 1;
      yaml_event_delete (ev);
      return tr_fail (b->err, 0, "%s:%d: YAML aliases (*name) are not supported in config", b->file,
                      line);
    }
  return 0;
}

static void
wipe_event (yaml_event_t *ev)
{
  if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.value)
    explicit_bzero (ev->data.scalar.value, ev->data.scalar.length);
}

static struct ynode *parse_node (struct builder *b, yaml_event_t *ev, int depth, const char *key);

static struct ynode *
parse_collection (struct builder *b, struct ynode *n, int depth)
{
  yaml_event_type_t end = n->type == YNODE_MAP ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;

  for (;;)
    {
      yaml_event_t ev;
      struct ynode *child;
      char *key = NULL;
      int key_line = 0;

      if (next_event (b, &ev) < 0)
        goto fail;
      if (ev.type == end)
        {
          yaml_event_delete (&ev);
          return n;
        }
      if (n->type == YNODE_MAP)
        {
          if (ev.type != YAML_SCALAR_EVENT)
            {
              tr_fail (b->err, 0, "%s:%zu: map keys must be plain strings", b->file,
                       ev.start_mark.line + 1);
              yaml_event_delete (&ev);
              goto fail;
            }
          key = strndup ((const char *) ev.data.scalar.value, ev.data.scalar.length);
          key_line = (int) ev.start_mark.line + 1;
          yaml_event_delete (&ev);
          if (key == NULL || next_event (b, &ev) < 0)
            {
              free (key);
              goto fail;
            }
        }
      child = parse_node (b, &ev, depth + 1, key);
      if (child == NULL)
        {
          free (key);
          goto fail;
        }
      child->key = key;
      child->key_line = key_line;
      append (n, child);
    }
fail:
  ytree_free (n);
  return NULL;
}

/* Build the node that starts with EV (consumed).  */
static struct ynode *
parse_node (struct builder *b, yaml_event_t *ev, int depth, const char *key)
{
  int line = (int) ev->start_mark.line + 1;
  struct ynode *n;

  if (depth > MAX_DEPTH)
    {
      yaml_event_delete (ev);
      tr_fail (b->err, 0, "%s:%d: YAML nested deeper than %d levels", b->file, line, MAX_DEPTH);
      return NULL;
    }
  switch (ev->type)
    {
    case YAML_SCALAR_EVENT:
      n = new_node (b, YNODE_SCALAR, line);
      if (n)
        {
          bool secret = !b->keep_secrets && ytree_is_secret_key (key);
          n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
          n->value = secret
                         ? strdup ("<redacted>")
                         : strndup ((const char *) ev->data.scalar.value, ev->data.scalar.length);
          if (secret)
            wipe_event (ev);
        }
      yaml_event_delete (ev);
      return n;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT:
      n = new_node (b, ev->type == YAML_MAPPING_START_EVENT ? YNODE_MAP : YNODE_SEQ, line);
      yaml_event_delete (ev);
      return n ? parse_collection (b, n, depth) : NULL;
    default:
      yaml_event_delete (ev);
      tr_fail (b->err, 0, "%s:%d: unexpected YAML structure", b->file, line);
      return NULL;
    }
}

static void
wipe_parser (yaml_parser_t *p)
{
  /* The raw text may contain secrets: clear libyaml's copies.  */
  if (p->raw_buffer.start)
    explicit_bzero (p->raw_buffer.start, (size_t) (p->raw_buffer.end - p->raw_buffer.start));
  if (p->buffer.start)
    explicit_bzero (p->buffer.start, (size_t) (p->buffer.end - p->buffer.start));
}

static struct ynode *parse_document (struct builder *b, const char *text, size_t len);

struct ynode *
ytree_parse (const char *file, const char *text, size_t len, struct tr_error *err)
{
  struct builder b = { .file = file, .err = err };
  return parse_document (&b, text, len);
}

struct ynode *
ytree_parse_secrets (const char *file, const char *text, size_t len, struct tr_error *err)
{
  struct builder b = { .file = file, .err = err, .keep_secrets = true };
  return parse_document (&b, text, len);
}

static struct ynode *
parse_document (struct builder *bp, const char *text, size_t len)
{
  struct builder b = *bp;
  const char *file = b.file;
  struct tr_error *err = b.err;
  struct ynode *root = NULL;
  yaml_event_t ev;
  bool done = false;

  if (!yaml_parser_initialize (&b.parser))
    {
      tr_fail (err, 0, "%s: cannot start the YAML parser", file);
      return NULL;
    }
  yaml_parser_set_input_string (&b.parser, (const unsigned char *) text, len);
  while (!done)
    {
      if (next_event (&b, &ev) < 0)
        goto fail;
      switch (ev.type)
        {
        case YAML_STREAM_END_EVENT:
          done = true;
          yaml_event_delete (&ev);
          break;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_SCALAR_EVENT:
          if (root)
            {
              tr_fail (err, 0, "%s:%zu: only one YAML document is allowed", file,
                       ev.start_mark.line + 1);
              yaml_event_delete (&ev);
              goto fail;
            }
          root = parse_node (&b, &ev, 0, NULL);
          if (root == NULL)
            goto fail;
          if (root->type == YNODE_SCALAR && root->value && root->value[0] == '\0')
            {
              ytree_free (root);
              root = NULL;
            }
          else if (root->type != YNODE_MAP)
            {
              tr_fail (err, 0, "%s:%d: the config must be a map of keys (sandbox:, policy:, ...)",
                       file, root->line);
              goto fail;
            }
          break;
        default:
          yaml_event_delete (&ev);
        }
    }
  wipe_parser (&b.parser);
  yaml_parser_delete (&b.parser);
  if (root == NULL)
    {
      root = calloc (1, sizeof *root);
      if (root)
        {
          root->type = YNODE_MAP;
          root->file = file;
          root->line = 1;
        }
    }
  return root;
fail:
  wipe_parser (&b.parser);
  yaml_parser_delete (&b.parser);
  ytree_free (root);
  return NULL;
}

struct ynode *
ytree_get (const struct ynode *map, const char *key)
{
  if (map == NULL || map->type != YNODE_MAP)
    return NULL;
  for (struct ynode *c = map->child; c; c = c->next)
    if (c->key && strcmp (c->key, key) == 0)
      return c;
  return NULL;
}

static void
unlink_child (struct ynode *parent, struct ynode *child)
{
  struct ynode **pp = &parent->child, *prev = NULL;

  while (*pp && *pp != child)
    {
      prev = *pp;
      pp = &(*pp)->next;
    }
  if (*pp == NULL)
    return;
  *pp = child->next;
  if (parent->last == child)
    parent->last = prev;
  child->next = NULL;
}

void
ytree_merge (struct ynode *dst, struct ynode *src)
{
  struct ynode *c = src->child;

  src->child = src->last = NULL;
  while (c)
    {
      struct ynode *next = c->next;
      struct ynode *old = ytree_get (dst, c->key);
      c->next = NULL;
      if (old && old->type == YNODE_MAP && c->type == YNODE_MAP)
        {
          ytree_merge (old, c); /* consumes c */
        }
      else if (old && old->type == YNODE_SEQ && c->type == YNODE_SEQ)
        {
          for (struct ynode *item = c->child, *inext; item; item = inext)
            {
              inext = item->next;
              item->next = NULL;
              append (old, item);
            }
          c->child = c->last = NULL;
          ytree_free (c);
        }
      else
        {
          if (old)
            {
              unlink_child (dst, old);
              ytree_free (old);
            }
          append (dst, c);
        }
      c = next;
    }
  ytree_free (src);
}

void
ytree_free (struct ynode *n)
{
  while (n)
    {
      struct ynode *next = n->next;
      ytree_free (n->child);
      free (n->key);
      if (n->value)
        {
          explicit_bzero (n->value, strlen (n->value));
          free (n->value);
        }
      free (n);
      n = next;
    }
}
