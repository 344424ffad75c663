/* Checkpoint storage.  With --storage file, each checkpoint is written to
 * STORAGE_DIR/<procedure>.json as soon as it is made; a later run of the
 * same procedure replays them by position instead of running the code
 * again.  A run that completes successfully clears its file.  */
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

#include "broker/internal.h"
#include "broker/trace.h"

void
storage_file_path (const char *dir, const char *procedure_name, char *buf, size_t size)
{
  char name[200];
  const char *src = procedure_name ? procedure_name : "main";
  size_t i;

  for (i = 0; src[i] && i < sizeof name - 1; i++)
    name[i] = (src[i] == '/' || src[i] == '.') ? '_' : src[i];
  name[i] = '\0';
  snprintf (buf, size, "%s/%s.json", dir, name);
}

static void
storage_path (const struct broker_state *b, char *buf, size_t size)
{
  storage_file_path (b->o->storage_dir, b->o->procedure_name, buf, size);
}

/* Answer the request a paused run waits for: the answer becomes the
 * checkpoint at the request's position, so the re-run replays to it.  */
int
storage_answer (const char *dir, const char *procedure_name, const char *answer, char *question,
                size_t qsize, struct tr_error *err)
{
  char path[1024], tmp[1100];
  FILE *f;
  char *text = NULL;
  size_t cap = 0;
  cJSON *doc, *pending, *pos, *msg, *value, *entry, *cps;
  char key[32];

  storage_file_path (dir, procedure_name, path, sizeof path);
  f = fopen (path, "re");
  if (f == NULL)
    return tr_fail (err, errno, "%s (no paused run of %s: run it with --storage file first)", path,
                    procedure_name);
  if (getdelim (&text, &cap, '\0', f) < 0)
    text = NULL;
  fclose (f);
  doc = text ? cJSON_Parse (text) : NULL;
  free (text);
  pending = cJSON_GetObjectItemCaseSensitive (doc, "pending");
  pos = cJSON_GetObjectItemCaseSensitive (pending, "position");
  if (!cJSON_IsNumber (pos))
    {
      cJSON_Delete (doc);
      return tr_fail (err, 0, "%s: the run is not waiting for an answer", path);
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
  text = cJSON_Print (doc);
  cJSON_Delete (doc);
  snprintf (tmp, sizeof tmp, "%s.%d.tmp", path, (int) getpid ());
  f = text ? fopen (tmp, "we") : NULL;
  if (f == NULL || fputs (text, f) < 0 || fclose (f) != 0 || rename (tmp, path) < 0)
    {
      cJSON_free (text);
      return tr_fail (err, errno, "write %s", path);
    }
  cJSON_free (text);
  return 0;
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
  char path[1024];
  FILE *f;
  char *text = NULL;
  size_t cap = 0;
  ssize_t n;
  cJSON *doc;

  b->checkpoints = cJSON_CreateObject ();
  if (b->o->storage != STORAGE_FILE)
    return;
  storage_path (b, path, sizeof path);
  f = fopen (path, "re");
  if (f == NULL)
    return;
  n = getdelim (&text, &cap, '\0', f);
  fclose (f);
  doc = n > 0 ? cJSON_Parse (text) : NULL;
  free (text);
  if (doc && cJSON_IsObject (cJSON_GetObjectItemCaseSensitive (doc, "pending")))
    b->pending = cJSON_DetachItemFromObjectCaseSensitive (doc, "pending");
  if (doc && cJSON_IsObject (cJSON_GetObjectItemCaseSensitive (doc, "checkpoints")))
    {
      cJSON_Delete (b->checkpoints);
      b->checkpoints = cJSON_DetachItemFromObjectCaseSensitive (doc, "checkpoints");
      for (const cJSON *c = b->checkpoints->child; c; c = c->next)
        b->checkpoint_bytes += entry_cost (c);
      trace_note (b->o->trace, "log", "INFO", "replaying %d checkpoint(s) from %s",
                  cJSON_GetArraySize (b->checkpoints), path);
    }
  else if (n > 0)
    trace_note (b->o->trace, "log", "WARNING", "%s is not a checkpoint file; starting fresh", path);
  cJSON_Delete (doc);
}

/* Write the checkpoints (and the pending request) to their file: a
 * temporary file renamed into place.  On failure (a full disk...) the
 * temporary file is removed, the reason traced and -1 returned with errno
 * set.  */
static int
write_file (struct broker_state *b)
{
  char path[1024], tmp[1100];
  cJSON *doc = cJSON_CreateObject ();
  char *text;
  FILE *f;
  bool ok;
  int e = 0;

  mkdir (b->o->storage_dir, 0700);
  storage_path (b, path, sizeof path);
  snprintf (tmp, sizeof tmp, "%s.%d.tmp", path, (int) getpid ());
  cJSON_AddStringToObject (doc, "procedure", b->o->procedure_path ? b->o->procedure_path : "");
  cJSON_AddItemReferenceToObject (doc, "checkpoints", b->checkpoints);
  if (b->pending)
    cJSON_AddItemReferenceToObject (doc, "pending", b->pending);
  text = cJSON_Print (doc);
  cJSON_Delete (doc);
  f = text ? fopen (tmp, "we") : NULL;
  ok = f != NULL && fputs (text, f) >= 0;
  if (!ok)
    e = text ? errno : ENOMEM;
  if (f != NULL && fclose (f) != 0 && ok)
    ok = false, e = errno;
  if (ok && rename (tmp, path) < 0)
    ok = false, e = errno;
  cJSON_free (text);
  if (ok)
    return 0;
  if (f != NULL)
    unlink (tmp);
  trace_note (b->o->trace, "log", "ERROR", "cannot write checkpoints to %s: %s", path,
              e == ENOSPC || e == EDQUOT ? "the disk is full" : strerror (e));
  errno = e;
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
  char path[1024];

  if (b->o->storage == STORAGE_FILE && strcmp (b->out->status, "success") == 0)
    {
      storage_path (b, path, sizeof path);
      unlink (path);
    }
  cJSON_Delete (b->checkpoints);
  cJSON_Delete (b->pending);
  b->checkpoints = b->pending = NULL;
}
