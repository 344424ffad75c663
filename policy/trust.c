#define _GNU_SOURCE
#include "policy/trust.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/userdir.h"

#define STORE_NAME "trusted.json"
#define STORE_MAX (8 << 20)

struct store
{
  int dirfd;
  char dir[PATH_MAX];
  cJSON *doc;   /* {"version": 1, "trusted": [...]} */
  cJSON *items; /* its "trusted" array */
};

static void
store_close (struct store *s)
{
  if (s->dirfd >= 0)
    close (s->dirfd); /* releases the lock */
  cJSON_Delete (s->doc);
  s->dirfd = -1;
  s->doc = s->items = NULL;
}

/* Open and read the store.  WRITE: make the directory if needed and hold
 * its lock until store_close.  Without WRITE a missing directory is an
 * empty store.  */
static int
store_open (struct store *s, bool write, struct tr_error *err)
{
  cleanup_free char *text = NULL;
  size_t len;

  s->dirfd = -1;
  s->doc = s->items = NULL;
  if (userdir_state_path (s->dir, sizeof s->dir, err) < 0)
    return -1;
  s->dirfd = userdir_open (s->dir, write, err);
  if (s->dirfd < 0 && !write && errno == ENOENT)
    goto empty;
  if (s->dirfd < 0)
    return -1;
  /* Two `tactus-run trust` at once must not lose a record.  */
  if (write && flock (s->dirfd, LOCK_EX) < 0)
    return tr_fail (err, errno, "lock %s", s->dir);
  if (userdir_read (s->dirfd, s->dir, STORE_NAME, STORE_MAX, &text, &len, err) < 0)
    return -1;
  if (text)
    {
      s->doc = cJSON_ParseWithLength (text, len);
      s->items = cJSON_GetObjectItemCaseSensitive (s->doc, "trusted");
      if (!cJSON_IsArray (s->items))
        return tr_fail (err, 0,
                        "%s/%s is not a trust store (damaged?): move it away and trust your "
                        "project files again",
                        s->dir, STORE_NAME);
      return 0;
    }
empty:
  s->doc = cJSON_CreateObject ();
  cJSON_AddNumberToObject (s->doc, "version", 1);
  s->items = cJSON_AddArrayToObject (s->doc, "trusted");
  return s->items ? 0 : tr_fail (err, ENOMEM, "trust store");
}

static int
store_save (struct store *s, struct tr_error *err)
{
  cleanup_free char *text = cJSON_Print (s->doc);
  if (text == NULL)
    return tr_fail (err, ENOMEM, "trust store");
  return userdir_write (s->dirfd, s->dir, STORE_NAME, text, strlen (text), err);
}

static const char *
str (const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, k);
  return cJSON_IsString (v) ? v->valuestring : NULL;
}

static cJSON *
find (const struct store *s, const char *file)
{
  cJSON *it;
  cJSON_ArrayForEach (it, s->items)
  {
    const char *f = str (it, "file");
    if (f && strcmp (f, file) == 0)
      return it;
  }
  return NULL;
}

static bool
same_hash (const char *hex, const uint8_t sha[TR_SHA256_LEN])
{
  char want[TR_SHA256_HEX];

  tr_hex (sha, TR_SHA256_LEN, want);
  return hex && strlen (hex) == TR_SHA256_HEX - 1 && tr_equal_consttime (hex, want, strlen (want));
}

int
trust_subject_make (struct trust_subject *s, const char *file, const char *text, size_t len,
                    const char *procedure, const char *proc_text, size_t proc_len,
                    struct tr_error *err)
{
  memset (s, 0, sizeof *s);
  if (snprintf (s->file, sizeof s->file, "%s", file) >= (int) sizeof s->file)
    return tr_fail (err, ENAMETOOLONG, "%s", file);
  if (tr_sha256 (text, len, s->sha256, err) < 0)
    return -1;
  if (proc_text == NULL)
    return 0;
  s->bound = true;
  if (snprintf (s->procedure, sizeof s->procedure, "%s", procedure) >= (int) sizeof s->procedure)
    return tr_fail (err, ENAMETOOLONG, "%s", procedure);
  return tr_sha256 (proc_text, proc_len, s->procedure_sha256, err);
}

int
trust_check (const struct trust_subject *subj, enum trust_verdict *v, struct tr_error *err)
{
  struct store s;
  const cJSON *rec;

  *v = TRUST_UNKNOWN;
  if (store_open (&s, false, err) < 0)
    {
      store_close (&s);
      return -1;
    }
  rec = find (&s, subj->file);
  if (rec == NULL)
    *v = TRUST_UNKNOWN;
  else if (!same_hash (str (rec, "sha256"), subj->sha256))
    *v = TRUST_CHANGED;
  else if (subj->bound && !same_hash (str (rec, "procedure_sha256"), subj->procedure_sha256))
    *v = TRUST_PROCEDURE_CHANGED;
  else if (!subj->bound && str (rec, "procedure_sha256"))
    *v = TRUST_CHANGED; /* a sidecar's record never trusts a project config */
  else
    *v = TRUST_OK;
  store_close (&s);
  return 0;
}

int
trust_add (const struct trust_subject *subj, struct tr_error *err)
{
  struct store s;
  cJSON *rec, *old;
  char hex[TR_SHA256_HEX], when[64];
  time_t now = time (NULL);
  struct tm tm;
  int r;

  if (store_open (&s, true, err) < 0)
    {
      store_close (&s);
      return -1;
    }
  old = find (&s, subj->file);
  if (old)
    cJSON_Delete (cJSON_DetachItemViaPointer (s.items, old));
  rec = cJSON_CreateObject ();
  cJSON_AddStringToObject (rec, "file", subj->file);
  tr_hex (subj->sha256, TR_SHA256_LEN, hex);
  cJSON_AddStringToObject (rec, "sha256", hex);
  if (subj->bound)
    {
      cJSON_AddStringToObject (rec, "procedure", subj->procedure);
      tr_hex (subj->procedure_sha256, TR_SHA256_LEN, hex);
      cJSON_AddStringToObject (rec, "procedure_sha256", hex);
    }
  gmtime_r (&now, &tm);
  strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  cJSON_AddStringToObject (rec, "trusted_at", when);
  cJSON_AddItemToArray (s.items, rec);
  r = store_save (&s, err);
  store_close (&s);
  return r;
}

int
trust_remove (const char *file, bool *found, struct tr_error *err)
{
  struct store s;
  cJSON *old;
  int r = 0;

  *found = false;
  if (store_open (&s, true, err) < 0)
    {
      store_close (&s);
      return -1;
    }
  old = find (&s, file);
  if (old)
    {
      *found = true;
      cJSON_Delete (cJSON_DetachItemViaPointer (s.items, old));
      r = store_save (&s, err);
    }
  store_close (&s);
  return r;
}

int
trust_records (cJSON **records, struct tr_error *err)
{
  struct store s;

  *records = NULL;
  if (store_open (&s, false, err) < 0)
    {
      store_close (&s);
      return -1;
    }
  *records = cJSON_Duplicate (s.items, 1);
  store_close (&s);
  return *records ? 0 : tr_fail (err, ENOMEM, "trust store");
}
