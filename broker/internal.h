#ifndef TR_BROKER_INTERNAL_H
#define TR_BROKER_INTERNAL_H

#include <stdarg.h>

#include "broker/broker.h"

struct cJSON;

struct broker_state
{
  const struct broker_options *o;
  struct broker_peer *peer;
  struct broker_outcome *out;
  struct cJSON *checkpoints; /* position -> {done, value, ...} */
  struct cJSON *pending;     /* the control request the run paused on, or NULL */
  char stage[128];           /* current stage, "" for none */
  bool started;
  bool finished;
  long tokens_used;          /* model tokens this run, for policy.max_tokens */
};

/* broker.c */
int broker_reply (struct broker_state *b, const struct cJSON *id, const char *event, struct cJSON *data);
int broker_reply_error (struct broker_state *b, const struct cJSON *id, const char *type,
                        const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));
void broker_violation (struct broker_state *b, const struct cJSON *id, const char *why);

/* dispatch.c: one function per method.  */
void broker_dispatch (struct broker_state *b, const struct cJSON *id, const char *method,
                      const struct cJSON *params);

/* tools.c: host tools, deny by default.  */
void broker_tool_call (struct broker_state *b, const struct cJSON *id, const struct cJSON *params);

/* control.c: approvals and human input.  */
void broker_control_request (struct broker_state *b, const struct cJSON *id, const struct cJSON *params);
/* Ask a yes/no question on the TTY or by policy; 1 yes, 0 no, -1 no one to ask.  */
int broker_approve (struct broker_state *b, const char *question);

/* llm.c: model calls (OpenAI-compatible, libcurl).  */
void broker_llm_chat (struct broker_state *b, const struct cJSON *id, const struct cJSON *params);

/* storage.c: checkpoints, in memory or in a file per procedure.  */
void broker_storage_open (struct broker_state *b);
void broker_storage_save (struct broker_state *b, const struct cJSON *params);
/* Remember the request a paused run waits for (file storage only).  */
void broker_storage_pending (struct broker_state *b, const struct cJSON *request);
void broker_storage_close (struct broker_state *b);

#endif
