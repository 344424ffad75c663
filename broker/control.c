/* Human in the loop: control.request from the VM (Human.approve/input/
 * review/escalate).  The answer comes from, in order: --approve (or the
 * policy's approve:), a prompt on the controlling terminal, or nobody --
 * then the run pauses ("waiting for human", exit 0) and can be resumed with
 * --storage file.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#include "broker/internal.h"
#include "broker/trace.h"

static enum broker_approve
approve_mode (const struct broker_state *b)
{
  if (b->o->approve_set)
    return b->o->approve;
  if (b->o->policy && b->o->policy->approve_default >= 0)
    return (enum broker_approve) b->o->policy->approve_default;
  return APPROVE_ASK;
}

int
broker_approve (struct broker_state *b, const char *question)
{
  char line[256];

  switch (approve_mode (b))
    {
    case APPROVE_ALL:
      return 1;
    case APPROVE_NONE:
      return 0;
    default:
      /* The CLI's view asks (and escapes the question: it is the
       * cage's text).  */
      if (trace_ask (b->o->trace, "approval", question, line, sizeof line,
                     b->peer->ms_left (b->peer->ctx))
          < 0)
        return -1;
      return line[0] == 'y' || line[0] == 'Y';
    }
}

static cJSON *
answer (struct broker_state *b, const char *type, const cJSON *req, bool *have)
{
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive (req, "message");
  const cJSON *def = cJSON_GetObjectItemCaseSensitive (req, "default_value");
  const char *text = cJSON_IsString (msg) ? msg->valuestring : "(no message)";
  enum broker_approve mode = approve_mode (b);
  char line[1024];

  *have = true;
  if (strcmp (type, "approval") == 0)
    {
      int ok = broker_approve (b, text);
      if (ok >= 0)
        return cJSON_CreateBool (ok);
    }
  else if (mode != APPROVE_ASK)
    {
      /* Unattended: inputs take their default; reviews follow --approve.  */
      if (strcmp (type, "review") == 0)
        {
          cJSON *r = cJSON_CreateObject ();
          cJSON_AddStringToObject (r, "decision", mode == APPROVE_ALL ? "approve" : "reject");
          return r;
        }
      return def ? cJSON_Duplicate (def, 1) : cJSON_CreateNull ();
    }
  else
    {
      if (trace_ask (b->o->trace, type, text, line, sizeof line, b->peer->ms_left (b->peer->ctx))
          == 0)
        {
          if (strcmp (type, "review") == 0)
            {
              cJSON *r = cJSON_CreateObject ();
              cJSON_AddStringToObject (r, "decision", line[0] ? line : "approve");
              return r;
            }
          if (line[0] == '\0' && def && !cJSON_IsNull (def))
            return cJSON_Duplicate (def, 1); /* Enter takes the default */
          return cJSON_CreateString (line);
        }
    }
  *have = false;
  return NULL;
}

void
broker_control_request (struct broker_state *b, const cJSON *id, const cJSON *params)
{
  const cJSON *req = cJSON_GetObjectItemCaseSensitive (params, "request");
  const cJSON *type = cJSON_GetObjectItemCaseSensitive (req, "request_type");
  cJSON *value, *data, *copy;
  bool have;

  if (!cJSON_IsObject (req) || !cJSON_IsString (type))
    return broker_violation (b, id, "control.request needs params.request with a request_type");
  copy = cJSON_CreateObject ();
  cJSON_AddStringToObject (copy, "event_type", "control_request");
  cJSON_AddItemToObject (copy, "request", cJSON_Duplicate (req, 1));
  trace_event (b->o->trace, copy);
  cJSON_Delete (copy);
  broker_reply (b, id, "delivered", NULL);

  value = answer (b, type->valuestring, req, &have);
  if (!have)
    {
      broker_storage_pending (b, req);
      /* (How to answer and resume is the CLI's to say: its verdict.)  */
      trace_note (b->o->trace, "log", "WARNING",
                  "waiting for a human: no one to ask (no terminal, no standing answer); the run "
                  "pauses here%s",
                  b->o->storage == STORAGE_FILE ? ", its answers kept for a resume" : "");
      broker_reply_error (b, id, "WaitingForHuman", "waiting for a human to answer: %s (%s)",
                          cJSON_IsString (cJSON_GetObjectItemCaseSensitive (req, "message"))
                              ? cJSON_GetObjectItemCaseSensitive (req, "message")->valuestring
                              : "(no message)",
                          type->valuestring);
      return;
    }
  data = cJSON_CreateObject ();
  cJSON_AddItemToObject (data, "value", value);
  cJSON_AddBoolToObject (data, "timed_out", 0);
  cJSON_AddStringToObject (data, "channel_id", approve_mode (b) == APPROVE_ASK ? "tty" : "policy");
  broker_reply (b, id, "done", data);
}
