/* The broker's methods.  Each validates its params (the VM is untrusted)
 * and answers with a stream of events ending in done or error.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/internal.h"
#include "broker/trace.h"

static const char *
param_str (const cJSON *params, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (params, key);
  return cJSON_IsString (v) ? v->valuestring : NULL;
}

static void
run_start (struct broker_state *b, const cJSON *id)
{
  cJSON *data = cJSON_CreateObject ();

  if (b->started)
    {
      cJSON_Delete (data);
      broker_violation (b, id, "run.start sent twice");
      return;
    }
  b->started = true;
  cJSON_AddItemToObject (data, "params",
                         b->o->params ? cJSON_Duplicate (b->o->params, 1) : cJSON_CreateObject ());
  cJSON_AddBoolToObject (data, "mock_all", b->o->mock_all);
  cJSON_AddStringToObject (data, "procedure_name",
                           b->o->procedure_name ? b->o->procedure_name : "main");
  cJSON_AddItemToObject (data, "checkpoints",
                         b->checkpoints ? cJSON_Duplicate (b->checkpoints, 1)
                                        : cJSON_CreateObject ());
  /* The MCP servers the config names (none is started yet).  */
  if (b->o->n_mcp_servers > 0)
    cJSON_AddItemToObject (data, "mcp_servers", broker_mcp_names (b));
  for (const cJSON *x = b->o->start_extra ? b->o->start_extra->child : NULL; x; x = x->next)
    if (x->string && !cJSON_HasObjectItem (data, x->string))
      cJSON_AddItemToObject (data, x->string, cJSON_Duplicate (x, 1));
  broker_reply (b, id, "done", data);
}

static void
events_emit (struct broker_state *b, const cJSON *id, const cJSON *params)
{
  cJSON *event = cJSON_GetObjectItemCaseSensitive (params, "event");
  cJSON *copy;
  cJSON *ok;

  if (!cJSON_IsObject (event)
      || !cJSON_IsString (cJSON_GetObjectItemCaseSensitive (event, "event_type")))
    {
      broker_violation (b, id, "events.emit needs params.event, an object with an event_type");
      return;
    }
  copy = cJSON_Duplicate (event, 1);
  /* The broker's clock stamps events (ISO 8601); the VM's is not trusted.  */
  cJSON_DeleteItemFromObjectCaseSensitive (copy, "timestamp");
  trace_event (b->o->trace, copy);
  cJSON_Delete (copy);
  if (id == NULL)
    return; /* a notification */
  ok = cJSON_CreateObject ();
  cJSON_AddBoolToObject (ok, "ok", 1);
  broker_reply (b, id, "done", ok);
}

static void
stage_set (struct broker_state *b, const cJSON *id, const cJSON *params)
{
  const char *name = param_str (params, "name");
  const struct policy *p = b->o->policy;
  cJSON *data;

  if (name == NULL || strlen (name) >= sizeof b->stage)
    {
      broker_violation (b, id, "stage.set needs params.name");
      return;
    }
  if (p && p->n_stages > 0 && policy_find_stage (p, name) == NULL)
    {
      char list[512] = "";
      for (size_t i = 0; i < p->n_stages; i++)
        {
          size_t len = strlen (list);
          snprintf (list + len, sizeof list - len, "%s'%s'", i ? ", " : "", p->stages[i].name);
        }
      trace_note (b->o->trace, "log", "WARNING",
                  "refused Stage.set('%.100s'): not a stage of the policy", name);
      broker_reply_error (b, id, "StageNotAllowed",
                          "stage '%.100s' is not declared in the policy (policy.stages: %s); the "
                          "current stage is unchanged",
                          name, list);
      return;
    }
  snprintf (b->stage, sizeof b->stage, "%s", name);
  trace_note (b->o->trace, "stage", NULL, "%s", name);
  data = cJSON_CreateObject ();
  cJSON_AddStringToObject (data, "stage", name);
  broker_reply (b, id, "done", data);
}

static void
run_finish (struct broker_state *b, const cJSON *id, const cJSON *params)
{
  const char *status = param_str (params, "status");
  cJSON *ok;

  if (status == NULL)
    {
      broker_violation (b, id, "run.finish needs params.status");
      return;
    }
  if (b->finished)
    {
      broker_violation (b, id, "run.finish sent twice");
      return;
    }
  b->finished = true;
  cJSON_Delete (b->out->finish);
  b->out->finish = cJSON_Duplicate (params, 1);
  snprintf (b->out->status, sizeof b->out->status, "%.31s", status);
  if (id == NULL)
    return; /* a notification */
  ok = cJSON_CreateObject ();
  cJSON_AddBoolToObject (ok, "ok", 1);
  broker_reply (b, id, "done", ok);
}

void
broker_dispatch (struct broker_state *b, const cJSON *id, const char *method, const cJSON *params)
{
  static const cJSON empty = { 0 };

  if (params == NULL)
    params = &empty;
  if (strcmp (method, "run.start") == 0)
    return run_start (b, id);
  if (!b->started)
    return broker_violation (b, id, "the first request must be run.start");
  if (b->finished && strcmp (method, "run.finish") != 0)
    return broker_violation (b, id, "request after run.finish");
  if (strcmp (method, "events.emit") == 0)
    return events_emit (b, id, params);
  if (strcmp (method, "tool.call") == 0)
    return broker_tool_call (b, id, params);
  if (strcmp (method, "control.request") == 0)
    return broker_control_request (b, id, params);
  if (strcmp (method, "checkpoint.save") == 0)
    {
      int r = broker_storage_save (b, params);
      if (r == -3)
        return broker_violation (b, id,
                                 "checkpoint.save needs params.position, a whole number from 1 "
                                 "to 1000000");
      if (r == -2)
        return (void) broker_reply_error (
            b, id, "CheckpointWriteFailed", "the checkpoint could not be written to %s: %s",
            b->o->storage_dir,
            errno == ENOSPC || errno == EDQUOT ? "the disk is full" : strerror (errno));
      if (r < 0)
        return (void) broker_reply_error (b, id, "CheckpointStorageFull",
                                          "the run's checkpoints would take more than %d MiB of "
                                          "the broker's memory",
                                          BROKER_MAX_CHECKPOINT_BYTES >> 20);
      return (void) broker_reply (b, id, "done", cJSON_CreateObject ());
    }
  if (strcmp (method, "module.load") == 0)
    return broker_module_load (b, id, params);
  if (strncmp (method, "fs.", 3) == 0)
    return broker_fs (b, id, method + 3, params);
  if (strcmp (method, "stage.set") == 0)
    return stage_set (b, id, params);
  if (strcmp (method, "llm.chat") == 0)
    return broker_llm_chat (b, id, params);
  if (strcmp (method, "mcp.list_tools") == 0)
    return broker_mcp_list (b, id, params);
  if (strcmp (method, "mcp.call_tool") == 0)
    return broker_mcp_call (b, id, params);
  if (strcmp (method, "http.request") == 0)
    return broker_http_request (b, id, params);
  if (strcmp (method, "run.finish") == 0)
    return run_finish (b, id, params);
  broker_reply_error (b, id, "MethodNotFound", "unknown method '%.100s'", method);
}
