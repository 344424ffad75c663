/* Checkpoint files: see checkpoint_store.h.  */
#define _GNU_SOURCE
#include "broker/checkpoint_store.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/userdir.h"

#define FORMAT "tactus-run-checkpoints v1"
#define KEY_NAME "checkpoint.key"
#define STORAGE_NAME "storage"
#define HEADS_NAME "storage-heads"
/* The broker keeps at most 64 MiB of checkpoints (as it counts them);
 * their pretty-printed JSON may be somewhat larger.  */
#define MAX_RECORD (160 << 20)

int
checkpoint_record_mac (const uint8_t key[TR_SHA256_LEN], const char *procedure, const char *body,
                       size_t len, uint8_t mac[TR_SHA256_LEN], struct tr_error *err)
{
  size_t plen = strlen (procedure), n = sizeof FORMAT + plen + 1 + len;
  cleanup_free char *msg = malloc (n);
  int r;

  if (msg == NULL)
    return tr_fail (err, ENOMEM, "checkpoint");
  /* FORMAT NUL PROCEDURE NUL BODY: a record made for one procedure does
   * not verify for another.  */
  memcpy (msg, FORMAT, sizeof FORMAT);
  memcpy (msg + sizeof FORMAT, procedure, plen + 1);
  memcpy (msg + sizeof FORMAT + plen + 1, body, len);
  r = tr_hmac_sha256 (key, TR_SHA256_LEN, msg, n, mac, err);
  return r;
}

static int
unhex (const char *s, uint8_t *out, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      int v = 0;
      for (int j = 0; j < 2; j++)
        {
          char c = s[2 * i + j];
          v <<= 4;
          if (c >= '0' && c <= '9')
            v |= c - '0';
          else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
          else
            return -1;
        }
      out[i] = (uint8_t) v;
    }
  return 0;
}

int
checkpoint_record_verify (const uint8_t key[TR_SHA256_LEN], const char *procedure, const char *data,
                          size_t len, size_t *body_off, uint8_t mac[TR_SHA256_LEN],
                          struct tr_error *err)
{
  const size_t head = sizeof FORMAT; /* FORMAT, a space */
  uint8_t want[TR_SHA256_LEN];

  if (len < head + 2 * TR_SHA256_LEN + 1 || memcmp (data, FORMAT " ", head) != 0
      || data[head + 2 * TR_SHA256_LEN] != '\n' || unhex (data + head, mac, TR_SHA256_LEN) < 0)
    return tr_fail (err, 0, "it is not a checkpoint file of this version of tactus-run");
  *body_off = head + 2 * TR_SHA256_LEN + 1;
  if (checkpoint_record_mac (key, procedure, data + *body_off, len - *body_off, want, err) < 0)
    return -1;
  if (!tr_equal_consttime (want, mac, TR_SHA256_LEN))
    return tr_fail (err, 0,
                    "its HMAC does not verify: it was not written by tactus-run for you and "
                    "this procedure, or it was changed since");
  return 0;
}

int
checkpoint_store_init (struct checkpoint_store *s, const char *explicit_dir, const char *procedure,
                       const char *name, struct tr_error *err)
{
  char safe[101];
  size_t i;

  memset (s, 0, sizeof *s);
  s->dirfd = s->statefd = -1;
  if (realpath (procedure, s->procedure) == NULL)
    return tr_fail (err, errno, "%s", procedure);
  for (i = 0; name && name[i] && i < sizeof safe - 1; i++)
    safe[i] = (name[i] == '/' || name[i] == '.') ? '_' : name[i];
  safe[i] = '\0';
  if (i == 0)
    snprintf (safe, sizeof safe, "main");
  snprintf (s->label, sizeof s->label, "%s", name && name[0] ? name : "main");
  if (userdir_state_path (s->state, sizeof s->state, err) < 0)
    return -1;
  if (explicit_dir)
    {
      snprintf (s->explicit_dir, sizeof s->explicit_dir, "%s", explicit_dir);
      snprintf (s->dir, sizeof s->dir, "%s", explicit_dir);
      snprintf (s->name, sizeof s->name, "%s.json", safe);
    }
  else
    {
      uint8_t sha[TR_SHA256_LEN];
      char hex[TR_SHA256_HEX];
      /* Two procedures of one name in different places keep apart.  */
      if (tr_sha256 (s->procedure, strlen (s->procedure), sha, err) < 0)
        return -1;
      tr_hex (sha, sizeof sha, hex);
      snprintf (s->dir, sizeof s->dir, "%s/%s", s->state, STORAGE_NAME);
      snprintf (s->name, sizeof s->name, "%s-%.16s.json", safe, hex);
    }
  return 0;
}

void
checkpoint_store_close (struct checkpoint_store *s)
{
  if (s->dirfd >= 0)
    close (s->dirfd);
  if (s->statefd >= 0)
    close (s->statefd);
  s->dirfd = s->statefd = -1;
  explicit_bzero (s->key, sizeof s->key);
  s->have_key = false;
}

static int
open_state (struct checkpoint_store *s, bool create, struct tr_error *err)
{
  if (s->statefd < 0)
    s->statefd = userdir_open (s->state, create, err);
  return s->statefd < 0 ? -1 : 0;
}

/* DIR from the current directory, never through a symlink: a workspace
 * may hold the path, and a run could have replaced a part of it.  */
static int
open_explicit (const char *path, bool create, struct tr_error *err)
{
  const unsigned long long how = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int fd = tr_openat2 (AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, how);

  if (fd < 0 && errno == ENOENT && create)
    {
      char a[PATH_MAX], b[PATH_MAX];
      cleanup_close int pfd = -1;
      snprintf (a, sizeof a, "%s", path);
      snprintf (b, sizeof b, "%s", path);
      pfd = tr_openat2 (AT_FDCWD, dirname (a), O_RDONLY | O_DIRECTORY | O_CLOEXEC, how);
      if (pfd >= 0 && (mkdirat (pfd, basename (b), 0700) == 0 || errno == EEXIST))
        fd = tr_openat2 (pfd, basename (b), O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                         how | RESOLVE_BENEATH);
    }
  if (fd < 0)
    {
      int e = errno;
      if (e == ELOOP || e == EXDEV)
        tr_fail (err, 0,
                 "%s: the path goes through a symlink; checkpoints are never reached through "
                 "one (a run may have planted it): give the real path of a directory",
                 path);
      else
        tr_fail (err, e, "%s", path);
      errno = e;
    }
  return fd;
}

static int
open_dir (struct checkpoint_store *s, bool create, struct tr_error *err)
{
  if (s->dirfd >= 0)
    return 0;
  if (s->explicit_dir[0])
    s->dirfd = open_explicit (s->explicit_dir, create, err);
  else if (open_state (s, create, err) == 0)
    s->dirfd = userdir_open_at (s->statefd, s->state, STORAGE_NAME, create, err);
  return s->dirfd < 0 ? -1 : 0;
}

static int
load_key (struct checkpoint_store *s, struct tr_error *err)
{
  if (s->have_key)
    return 0;
  if (open_state (s, true, err) < 0
      || userdir_secret (s->statefd, s->state, KEY_NAME, s->key, sizeof s->key, err) < 0)
    return -1;
  s->have_key = true;
  return 0;
}

/* The heads directory and the name of this record's head: the hash of
 * where the record is (its directory's real path and its name).  */
static int
open_heads (struct checkpoint_store *s, bool create, char *head, size_t size, struct tr_error *err)
{
  char link[64], real[PATH_MAX + NAME_MAX + 2];
  uint8_t sha[TR_SHA256_LEN];
  char hex[TR_SHA256_HEX];
  ssize_t n;

  snprintf (link, sizeof link, "/proc/self/fd/%d", s->dirfd);
  n = readlink (link, real, PATH_MAX);
  if (n <= 0)
    return tr_fail (err, errno, "%s", s->dir);
  real[n] = '\0';
  snprintf (real + n, sizeof real - (size_t) n, "/%s", s->name);
  if (tr_sha256 (real, strlen (real), sha, err) < 0)
    return -1;
  tr_hex (sha, sizeof sha, hex);
  snprintf (head, size, "%.32s", hex);
  if (open_state (s, create, err) < 0)
    return -1;
  return userdir_open_at (s->statefd, s->state, HEADS_NAME, create, err);
}

static int
refuse (struct checkpoint_store *s, struct tr_error *err)
{
  char why[TR_ERROR_MSG_MAX];

  snprintf (why, sizeof why, "%s", err->msg);
  return tr_fail (err, 0,
                  "%s/%s: %s: refusing to replay these checkpoints (remove the file to run the "
                  "procedure afresh)",
                  s->dir, s->name, why);
}

int
checkpoint_store_load (struct checkpoint_store *s, cJSON **body, struct tr_error *err)
{
  cleanup_free char *data = NULL, *head = NULL;
  cleanup_close int headsfd = -1;
  uint8_t mac[TR_SHA256_LEN];
  char head_name[40], hex[TR_SHA256_HEX];
  size_t len, off, hlen;

  *body = NULL;
  if (open_dir (s, false, err) < 0)
    return errno == ENOENT ? 0 : -1;
  if (userdir_read (s->dirfd, s->dir, s->name, MAX_RECORD, &data, &len, err) < 0)
    return -1;
  if (data == NULL)
    return 0;
  if (load_key (s, err) < 0)
    return -1;
  if (checkpoint_record_verify (s->key, s->procedure, data, len, &off, mac, err) < 0)
    return refuse (s, err);
  /* Genuine, and the latest written there?  */
  headsfd = open_heads (s, false, head_name, sizeof head_name, err);
  if (headsfd < 0 && errno != ENOENT)
    return -1;
  if (headsfd >= 0 && userdir_read (headsfd, s->state, head_name, 128, &head, &hlen, err) < 0)
    return -1;
  tr_hex (mac, sizeof mac, hex);
  if (head == NULL || hlen != strlen (hex) || !tr_equal_consttime (head, hex, hlen))
    {
      tr_fail (err, 0,
               "it is not the latest checkpoint file tactus-run wrote there (an older copy put "
               "back?)");
      return refuse (s, err);
    }
  *body = cJSON_ParseWithLength (data + off, len - off);
  if (!cJSON_IsObject (*body))
    {
      cJSON_Delete (*body);
      *body = NULL;
      tr_fail (err, 0, "its body is not a JSON object");
      return refuse (s, err);
    }
  return 0;
}

int
checkpoint_store_save (struct checkpoint_store *s, const cJSON *body, struct tr_error *err)
{
  cleanup_free char *text = NULL, *file = NULL;
  cleanup_close int headsfd = -1;
  uint8_t mac[TR_SHA256_LEN];
  char hex[TR_SHA256_HEX], head_name[40];
  size_t len, flen;

  if (open_dir (s, true, err) < 0 || load_key (s, err) < 0)
    return -1;
  text = cJSON_Print (body);
  if (text == NULL)
    return tr_fail (err, ENOMEM, "checkpoints");
  len = strlen (text);
  if (checkpoint_record_mac (s->key, s->procedure, text, len, mac, err) < 0)
    return -1;
  tr_hex (mac, sizeof mac, hex);
  flen = sizeof FORMAT + 2 * TR_SHA256_LEN + 1 + len;
  file = malloc (flen + 1);
  if (file == NULL)
    return tr_fail (err, ENOMEM, "checkpoints");
  snprintf (file, flen + 1, "%s %s\n%s", FORMAT, hex, text);
  headsfd = open_heads (s, true, head_name, sizeof head_name, err);
  if (headsfd < 0 || userdir_write (s->dirfd, s->dir, s->name, file, flen, err) < 0
      || userdir_write (headsfd, s->state, head_name, hex, strlen (hex), err) < 0)
    return -1;
  return 0;
}

int
checkpoint_store_clear (struct checkpoint_store *s, struct tr_error *err)
{
  cleanup_close int headsfd = -1;
  char head_name[40];

  if (open_dir (s, false, err) < 0)
    return errno == ENOENT ? 0 : -1;
  if (userdir_remove (s->dirfd, s->dir, s->name, err) < 0)
    return -1;
  headsfd = open_heads (s, false, head_name, sizeof head_name, err);
  if (headsfd < 0)
    return errno == ENOENT ? 0 : -1;
  return userdir_remove (headsfd, s->state, head_name, err);
}
