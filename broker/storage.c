/* Checkpoint storage.  With --storage file, each checkpoint is written to
 * the procedure's record (broker/checkpoint_store.h: outside the
 * workspace, authenticated) as soon as it is made; a later run of the
 * same procedure replays them by position instead of running the code
 * again.  A run that completes successfully clears its record.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/checkpoint_store.h"
#include "broker/internal.h"
#include "broker/trace.h"

/* Answer the request a paused run waits for: the answer becomes the
 * checkpoint at the request's position, so the re-run replays to it.  */
int
storage_answer (struct checkpoint_store *store, const char *answer, char *question, size_t qsize,
                struct tr_error *err)
{
  cJSON *doc, *pending, *pos, *msg, *value, *entry, *cps;
  char key[32];
  int r;

  if (checkpoint_store_load (store, &doc, err) < 0)
    return -1;
  if (doc == NULL)
    return tr_fail_hint (err, TR_HINT_NOT_STORED, 0, "no paused run of %s: %s/%s does not exist",
                         store->label, store->dir, store->name);
  pending = cJSON_GetObjectItemCaseSensitive (doc, "pending");
  pos = cJSON_GetObjectItemCaseSensitive (pending, "position");
  if (!cJSON_IsNumber (pos))
    {
      cJSON_Delete (doc);
      return tr_fail (err, 0, "%s/%s: the run is not waiting for an answer", store->dir,
                      store->name);
    }
  msg = cJSON_GetObjectItemCaseSensitive (pending, "message");
  snprintf (question, qsize, "%s", cJSON_IsString (msg) ? msg->valuestring : "(no message)");
  value = cJSON_Parse (answer);
  if (value == NULL)
    {
      if (strcasecmp (answer, "yes") == 0 || strcasecmp (answer, "y") == 0)
        value = cJSON_CreateTrue ();
      else if (strcasecmp (answer, "no") == 0 || strcasecmp (answer, "n") == 0)
        value = cJSON_CreateFalse ();
      else
        value = cJSON_CreateString (answer);
    }
  entry = cJSON_CreateObject ();
  cJSON_AddBoolToObject (entry, "done", 1);
  cJSON_AddItemToObject (entry, "value", value);
  cJSON_AddStringToObject (entry, "answered_by", "tactus-run answer");
  cps = cJSON_GetObjectItemCaseSensitive (doc, "checkpoints");
  if (!cJSON_IsObject (cps))
    {
      cJSON_DeleteItemFromObjectCaseSensitive (doc, "checkpoints");
      cps = cJSON_AddObjectToObject (doc, "checkpoints");
    }
  snprintf (key, sizeof key, "%d", (int) pos->valuedouble);
  cJSON_DeleteItemFromObjectCaseSensitive (cps, key);
  cJSON_AddItemToObject (cps, key, entry);
  cJSON_DeleteItemFromObjectCaseSensitive (doc, "pending");
  r = checkpoint_store_save (store, doc, err);
  cJSON_Delete (doc);
  return r;
}

/* What an entry costs the broker: its JSON text plus the nodes and key.  */
static size_t
entry_cost (const cJSON *entry)
{
  char *s = entry ? cJSON_PrintUnformatted (entry) : NULL;
  size_t n = s ? strlen (s) : 0;

  cJSON_free (s);
  return entry ? n + 128 : 0;
}

void
broker_storage_open (struct broker_state *b)
{
  const cJSON *doc = b->o->stored;

  b->checkpoints = cJSON_CreateObject ();
  if (b->o->storage != STORAGE_FILE || doc == NULL)
    return;
  if (cJSON_IsObject (cJSON_GetObjectItemCaseSensitive (doc, "pending")))
    b->pending = cJSON_Duplicate (cJSON_GetObjectItemCaseSensitive (doc, "pending"), 1);
  if (cJSON_IsObject (cJSON_GetObjectItemCaseSensitive (doc, "checkpoints")))
    {
      cJSON_Delete (b->checkpoints);
      b->checkpoints = cJSON_Duplicate (cJSON_GetObjectItemCaseSensitive (doc, "checkpoints"), 1);
      for (const cJSON *c = b->checkpoints->child; c; c = c->next)
        b->checkpoint_bytes += entry_cost (c);
      trace_note (b->o->trace, "log", "INFO", "replaying %d checkpoint(s) from %s/%s",
                  cJSON_GetArraySize (b->checkpoints), b->o->store->dir, b->o->store->name);
    }
}

/* Write the checkpoints (and the pending request) to their file
 * (broker/checkpoint_store.c).  On failure (a full disk...) the reason is
 * traced and -1 returned with errno set.  */
static int
write_file (struct broker_state *b)
{
  cJSON *doc = cJSON_CreateObject ();
  struct tr_error err;
  int r;

  tr_error_clear (&err);
  cJSON_AddStringToObject (doc, "procedure", b->o->store->procedure);
  cJSON_AddItemReferenceToObject (doc, "checkpoints", b->checkpoints);
  if (b->pending)
    cJSON_AddItemReferenceToObject (doc, "pending", b->pending);
  r = checkpoint_store_save (b->o->store, doc, &err);
  cJSON_Delete (doc);
  if (r == 0)
    return 0;
  trace_note (b->o->trace, "log", "ERROR", "cannot write checkpoints: %s",
              err.errnum == ENOSPC || err.errnum == EDQUOT ? "the disk is full" : err.msg);
  errno = err.errnum ? err.errnum : EIO;
  return -1;
}

int
broker_storage_save (struct broker_state *b, const cJSON *params)
{
  const cJSON *pos = cJSON_GetObjectItemCaseSensitive (params, "position");
  cJSON *entry;
  char key[32];
  size_t cost, old_cost;

  if (!cJSON_IsNumber (pos) || !(pos->valuedouble >= 1 && pos->valuedouble <= 1e6)
      || pos->valuedouble != (double) (int) pos->valuedouble)
    return -3;
  snprintf (key, sizeof key, "%d", (int) pos->valuedouble);
  entry = cJSON_CreateObject ();
  cJSON_AddBoolToObject (entry, "done", 1);
  if (cJSON_GetObjectItemCaseSensitive (params, "value"))
    cJSON_AddItemToObject (entry, "value",
                           cJSON_Duplicate (cJSON_GetObjectItemCaseSensitive (params, "value"), 1));
  /* The position after the checkpoint's nested ones: replay skips them.  */
  if (cJSON_IsNumber (cJSON_GetObjectItemCaseSensitive (params, "end_position")))
    cJSON_AddNumberToObject (
        entry, "end_position",
        cJSON_GetObjectItemCaseSensitive (params, "end_position")->valuedouble);
  if (cJSON_IsString (cJSON_GetObjectItemCaseSensitive (params, "source_location")))
    cJSON_AddStringToObject (
        entry, "source_location",
        cJSON_GetObjectItemCaseSensitive (params, "source_location")->valuestring);
  cost = entry_cost (entry);
  old_cost = entry_cost (cJSON_GetObjectItemCaseSensitive (b->checkpoints, key));
  if (b->checkpoint_bytes - old_cost + cost > BROKER_MAX_CHECKPOINT_BYTES)
    {
      cJSON_Delete (entry);
      trace_note (b->o->trace, "log", "ERROR",
                  "checkpoint %s refused: the run's checkpoints would "
                  "take more than %d MiB",
                  key, BROKER_MAX_CHECKPOINT_BYTES >> 20);
      return -1;
    }
  b->checkpoint_bytes = b->checkpoint_bytes - old_cost + cost;
  cJSON_DeleteItemFromObjectCaseSensitive (b->checkpoints, key);
  cJSON_AddItemToObject (b->checkpoints, key, entry);
  /* A checkpoint that is not on disk would not be replayed: say so.  */
  if (b->o->storage == STORAGE_FILE && write_file (b) < 0)
    return -2;
  return 0;
}

void
broker_storage_pending (struct broker_state *b, const cJSON *request)
{
  cJSON_Delete (b->pending);
  b->pending = cJSON_Duplicate (request, 1);
  if (b->o->storage == STORAGE_FILE)
    write_file (b);
}

void
broker_storage_close (struct broker_state *b)
{
  struct tr_error err;

  if (b->o->storage == STORAGE_FILE && strcmp (b->out->status, "success") == 0
      && checkpoint_store_clear (b->o->store, &err) < 0)
    trace_note (b->o->trace, "log", "WARNING", "%s", err.msg);
  cJSON_Delete (b->checkpoints);
  cJSON_Delete (b->pending);
  b->checkpoints = b->pending = NULL;
}
