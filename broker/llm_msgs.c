/* What every provider's request builder needs from the VM's llm.chat
 * params: the messages as normalized turns, tool results' names, tool
 * arguments as objects, the tool list and tool choice.  The params come
 * from the VM (untrusted): every shape is checked here, once.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/llm.h"

#define MAX_MESSAGES 10000

/* A message's content as text: a string, or the text of its parts
 * ([{type: text, text}]), joined.  NULL for none.  */
static char *
content_text (const cJSON *content)
{
  const cJSON *part;
  size_t len = 0;
  char *out;

  if (cJSON_IsString (content))
    return strdup (content->valuestring);
  if (!cJSON_IsArray (content))
    return NULL;
  cJSON_ArrayForEach (part, content)
  {
    const cJSON *t = cJSON_IsString (part) ? part : cJSON_GetObjectItemCaseSensitive (part, "text");
    if (cJSON_IsString (t))
      len += strlen (t->valuestring) + 1;
  }
  out = malloc (len + 1);
  if (out == NULL)
    return NULL;
  out[0] = '\0';
  len = 0;
  cJSON_ArrayForEach (part, content)
  {
    const cJSON *t = cJSON_IsString (part) ? part : cJSON_GetObjectItemCaseSensitive (part, "text");
    if (cJSON_IsString (t))
      {
        size_t n = strlen (t->valuestring);
        if (len)
          out[len++] = '\n';
        memcpy (out + len, t->valuestring, n + 1);
        len += n;
      }
  }
  return out;
}

/* The name of the call ID among the assistant tool calls before message I.  */
static const char *
call_name (const struct llm_msgs *m, int i, const char *id)
{
  for (int j = i - 1; j >= 0 && id; j--)
    {
      const cJSON *c;
      cJSON_ArrayForEach (c, m->m[j].tool_calls)
      {
        const cJSON *cid = cJSON_GetObjectItemCaseSensitive (c, "id");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive (c, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive (fn, "name");
        if (cJSON_IsString (cid) && strcmp (cid->valuestring, id) == 0 && cJSON_IsString (name))
          return name->valuestring;
      }
    }
  return NULL;
}

static int
join_system (struct llm_msgs *out, const char *text)
{
  size_t old = out->system ? strlen (out->system) : 0, add = strlen (text);
  char *n = realloc (out->system, old + add + 3);

  if (n == NULL)
    return -1;
  if (old)
    memcpy (n + old, "\n\n", 2), old += 2;
  memcpy (n + old, text, add + 1);
  out->system = n;
  return 0;
}

int
llm_msgs_parse (const cJSON *messages, struct llm_msgs *out, char *why, size_t whysize)
{
  const cJSON *msg;
  int n = cJSON_GetArraySize (messages);

  memset (out, 0, sizeof *out);
  if (n > MAX_MESSAGES)
    {
      snprintf (why, whysize, "llm.chat: more than %d messages", MAX_MESSAGES);
      return -1;
    }
  out->m = calloc ((size_t) n + 1, sizeof *out->m);
  if (out->m == NULL)
    {
      snprintf (why, whysize, "llm.chat: out of memory");
      return -1;
    }
  cJSON_ArrayForEach (msg, messages)
  {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive (msg, "role");
    const cJSON *tcs = cJSON_GetObjectItemCaseSensitive (msg, "tool_calls");
    const cJSON *tcid = cJSON_GetObjectItemCaseSensitive (msg, "tool_call_id");
    struct llm_msg *m = &out->m[out->n];

    if (!cJSON_IsString (role))
      {
        snprintf (why, whysize, "llm.chat: message %d has no role", out->n + 1);
        return -1;
      }
    m->text = content_text (cJSON_GetObjectItemCaseSensitive (msg, "content"));
    if (strcmp (role->valuestring, "system") == 0 || strcmp (role->valuestring, "developer") == 0)
      {
        if (m->text && join_system (out, m->text) < 0)
          return -1;
        free (m->text);
        m->text = NULL;
        continue;
      }
    if (strcmp (role->valuestring, "user") == 0)
      m->role = "user";
    else if (strcmp (role->valuestring, "assistant") == 0)
      {
        m->role = "assistant";
        if (cJSON_IsArray (tcs) && cJSON_GetArraySize (tcs) > 0)
          m->tool_calls = tcs;
      }
    else if (strcmp (role->valuestring, "tool") == 0)
      {
        m->role = "tool";
        m->tool_call_id = cJSON_IsString (tcid) ? tcid->valuestring : "";
        m->tool_name = call_name (out, out->n, m->tool_call_id);
      }
    else
      {
        free (m->text);
        m->text = NULL;
        snprintf (why, whysize,
                  "llm.chat: message %d has role '%.40s' (system, user, assistant, tool)",
                  out->n + 1, role->valuestring);
        return -1;
      }
    out->n++;
  }
  return 0;
}

void
llm_msgs_free (struct llm_msgs *m)
{
  for (int i = 0; m->m && i < m->n; i++)
    free (m->m[i].text);
  free (m->m);
  free (m->system);
  memset (m, 0, sizeof *m);
}

cJSON *
llm_args_object (const cJSON *call)
{
  const cJSON *fn = cJSON_GetObjectItemCaseSensitive (call, "function");
  const cJSON *args = cJSON_GetObjectItemCaseSensitive (fn, "arguments");
  cJSON *v = NULL;

  if (cJSON_IsString (args))
    v = cJSON_Parse (args->valuestring);
  else if (cJSON_IsObject (args))
    v = cJSON_Duplicate (args, 1);
  if (!cJSON_IsObject (v))
    {
      cJSON_Delete (v);
      v = cJSON_CreateObject ();
    }
  return v;
}

cJSON *
llm_result_value (const char *text)
{
  cJSON *v = text ? cJSON_Parse (text) : NULL;
  return v ? v : cJSON_CreateString (text ? text : "");
}

int
llm_tool_functions (const cJSON *params, const cJSON **fns, int max, char *why, size_t whysize)
{
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive (params, "tools");
  const cJSON *t;
  int n = 0;

  if (tools == NULL || cJSON_IsNull (tools))
    return 0;
  if (!cJSON_IsArray (tools))
    {
      snprintf (why, whysize, "llm.chat: tools must be a list");
      return -1;
    }
  cJSON_ArrayForEach (t, tools)
  {
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive (t, "function");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive (fn, "name");
    if (!cJSON_IsObject (fn) || !cJSON_IsString (name) || name->valuestring[0] == '\0')
      {
        snprintf (why, whysize, "llm.chat: tool %d is not {type: function, function: {name, ...}}",
                  n + 1);
        return -1;
      }
    if (n == max)
      {
        snprintf (why, whysize, "llm.chat: more than %d tools", max);
        return -1;
      }
    fns[n++] = fn;
  }
  return n;
}

const char *
llm_tool_choice (const cJSON *params, const char **name)
{
  const cJSON *tc = cJSON_GetObjectItemCaseSensitive (params, "tool_choice");
  const cJSON *fn = cJSON_GetObjectItemCaseSensitive (tc, "function");
  const cJSON *n = cJSON_GetObjectItemCaseSensitive (fn, "name");

  *name = NULL;
  if (cJSON_IsString (tc)
      && (strcmp (tc->valuestring, "none") == 0 || strcmp (tc->valuestring, "required") == 0))
    return tc->valuestring;
  if (cJSON_IsString (n))
    {
      *name = n->valuestring;
      return "function";
    }
  return "auto";
}

/* The items (under KEY) of the last turn of TURNS when it has ROLE, else
 * of a new turn: consecutive parts of one role go into one turn, as the
 * Anthropic, Bedrock and Gemini APIs want.  */
cJSON *
llm_turn_items (cJSON *turns, const char *role, const char *key)
{
  cJSON *last = cJSON_GetArrayItem (turns, cJSON_GetArraySize (turns) - 1);
  const cJSON *r = cJSON_GetObjectItemCaseSensitive (last, "role");
  cJSON *t;

  if (cJSON_IsString (r) && strcmp (r->valuestring, role) == 0)
    return cJSON_GetObjectItemCaseSensitive (last, key);
  t = cJSON_CreateObject ();
  cJSON_AddStringToObject (t, "role", role);
  cJSON_AddItemToArray (turns, t);
  return cJSON_AddArrayToObject (t, key);
}

void
llm_copy_number (cJSON *obj, const char *as, const cJSON *params, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (params, key);
  if (cJSON_IsNumber (v))
    cJSON_AddNumberToObject (obj, as, v->valuedouble);
}

cJSON *
llm_stop_list (const cJSON *params)
{
  const cJSON *stop = cJSON_GetObjectItemCaseSensitive (params, "stop");
  const cJSON *s;
  cJSON *list;

  if (cJSON_IsString (stop))
    {
      list = cJSON_CreateArray ();
      cJSON_AddItemToArray (list, cJSON_CreateString (stop->valuestring));
      return list;
    }
  if (!cJSON_IsArray (stop))
    return NULL;
  list = cJSON_CreateArray ();
  cJSON_ArrayForEach (s, stop)
  {
    if (cJSON_IsString (s))
      cJSON_AddItemToArray (list, cJSON_CreateString (s->valuestring));
  }
  return list;
}

void
llm_url_encode (const char *s, char *out, size_t size)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;

  for (; *s && o + 4 < size; s++)
    {
      unsigned char c = (unsigned char) *s;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
          || c == '_' || c == '.' || c == '~')
        out[o++] = (char) c;
      else
        {
          out[o++] = '%';
          out[o++] = hex[c >> 4];
          out[o++] = hex[c & 15];
        }
    }
  out[o] = '\0';
}
