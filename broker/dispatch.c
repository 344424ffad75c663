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

#define MAX_MODULE_SIZE (4 << 20)

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
  ok = cJSON_CreateObject ();
  cJSON_AddBoolToObject (ok, "ok", 1);
  broker_reply (b, id, "done", ok);
}

/* Open PATH (relative, no '..') under DIR without following a symlink in
 * any component: O_NOFOLLOW alone only covers the last one, and a
 * symlinked directory (lib -> /home/me) would lead out.  O_NONBLOCK: a FIFO
 * must not block the broker (it is refused as not a regular file).  */
static int
open_beneath (int dir, const char *path)
{
  char comp[256];
  const char *p = path, *slash;
  int cur = dir, fd;

  while ((slash = strchr (p, '/')) != NULL)
    {
      size_t n = (size_t) (slash - p);
      int next;
      if (n == 0 || n >= sizeof comp)
        {
          errno = ENOENT;
          goto fail;
        }
      memcpy (comp, p, n);
      comp[n] = '\0';
      next = openat (cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0)
        goto fail;
      if (cur != dir)
        close (cur);
      cur = next;
      p = slash + 1;
    }
  fd = openat (cur, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (cur != dir)
    {
      int e = errno;
      close (cur);
      errno = e;
    }
  return fd;
fail:
  if (cur != dir)
    {
      int e = errno;
      close (cur);
      errno = e;
    }
  return -1;
}

/* A local module NAME.tac beside the procedure.  NAME was checked by the VM
 * too, but only this check counts: no absolute paths, no '..', and the
 * file is opened without following symlinks out of the directory.  */
static void
module_load (struct broker_state *b, const cJSON *id, const cJSON *params)
{
  const char *name = param_str (params, "name");
  char path[1024];
  struct stat st;
  char *buf;
  ssize_t n;
  int dir, fd;
  cJSON *data;

  if (name == NULL || name[0] == '\0' || name[0] == '/' || strstr (name, "..")
      || strlen (name) > 200
      || strspn (name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./")
             != strlen (name))
    {
      broker_reply_error (b, id, "NotFound",
                          "module '%s': only modules beside the procedure may be loaded",
                          name ? name : "");
      return;
    }
  snprintf (path, sizeof path, "%s.tac", name);
  dir = open (b->o->procedure_dir ? b->o->procedure_dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  fd = dir < 0 ? -1 : open_beneath (dir, path);
  if (dir >= 0)
    close (dir);
  if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size > MAX_MODULE_SIZE)
    {
      int e = errno;
      if (fd >= 0)
        close (fd);
      broker_reply_error (b, id, "NotFound", "module '%s': %s/%s: %s", name,
                          b->o->procedure_dir ? b->o->procedure_dir : ".", path,
                          fd < 0
                              ? (e == ELOOP || e == ENOTDIR ? "a symlink in the path (symlinks are "
                                                              "not followed)"
                                                            : strerror (e))
                              : "not a regular file under 4 MiB");
      return;
    }
  buf = malloc ((size_t) st.st_size + 1);
  n = buf ? read (fd, buf, (size_t) st.st_size) : -1;
  close (fd);
  if (n != st.st_size)
    {
      free (buf);
      broker_reply_error (b, id, "NotFound", "module '%s': read failed", name);
      return;
    }
  buf[n] = '\0';
  data = cJSON_CreateObject ();
  cJSON_AddStringToObject (data, "source", buf);
  cJSON_AddStringToObject (data, "path", path);
  free (buf);
  broker_reply (b, id, "done", data);
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
    return module_load (b, id, params);
  if (strcmp (method, "stage.set") == 0)
    return stage_set (b, id, params);
  if (strcmp (method, "llm.chat") == 0)
    return broker_llm_chat (b, id, params);
  if (strcmp (method, "run.finish") == 0)
    return run_finish (b, id, params);
  broker_reply_error (b, id, "MethodNotFound", "unknown method '%.100s'", method);
}
