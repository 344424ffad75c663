/* The VM's files.  The VM's cage holds no host directory at all: File.*,
 * tactus.io.* and local modules ask the broker, which opens the path
 * beneath the workspace and hands the VM the open descriptor over the
 * socketpair (SCM_RIGHTS), so the VM reads and writes it directly and
 * large files cost no copies (docs/protocol.md "Files").
 *
 * Why this is safe:
 *   - a path is relative, without '..' or empty components, and every
 *     directory is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
 *     | RESOLVE_NO_MAGICLINKS): the kernel refuses a symlink anywhere in
 *     it, so no path leads out, whatever the VM (or anyone) swaps in
 *     between two calls.  Kernels without openat2 get the equivalent walk,
 *     one component at a time with O_NOFOLLOW from a held directory fd;
 *   - the last component is opened with O_PATH | O_NOFOLLOW, checked to be
 *     a regular file, then reopened through /proc/self/fd: a FIFO cannot
 *     block the broker, a device node is never opened;
 *   - the workspace mode (rw, ro, overlay, off), read-only volumes and the
 *     protected paths (common/protected.h) are decided here, in one place,
 *     before anything is opened for writing;
 *   - a root launcher does the work with the workspace owner's file-system
 *     ids (setfsuid/setfsgid, no supplementary groups) on this thread only,
 *     as the sandbox root mapped to that owner would: created files belong
 *     to the owner and the kernel checks permissions for the owner;
 *   - a write goes to an O_EXCL temporary beside the target, renamed into
 *     place on fs.commit, so a full disk never leaves half a file; what a
 *     run leaves uncommitted is removed when it ends.
 * Every access is a file_access trace event; a refused write is also a
 * policy_violation event.  */
#define _GNU_SOURCE
#define TR_BROKER_WS_INTERNAL
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "broker/internal.h"
#include "broker/overlay.h"
#include "broker/trace.h"
#include "broker/workspace.h"
#include "common/cleanup.h"
#include "common/protected.h"
#include "common/strv.h"

#define MAX_MODULE_SIZE (4 << 20)

bool broker_ws_force_walk;

static const char *
param_str (const cJSON *params, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive (params, key);
  return cJSON_IsString (v) ? v->valuestring : NULL;
}

/* ---- open and close --------------------------------------------------------- */

int
broker_workspace_open (const struct broker_workspace_spec *spec, struct broker_workspace **out,
                       struct tr_error *err)
{
  cleanup_free struct broker_workspace *ws = calloc (1, sizeof *ws);
  const char *const *prot = spec->protected_paths ? spec->protected_paths : protected_defaults;
  struct stat st;

  *out = NULL;
  if (ws == NULL)
    return tr_fail (err, ENOMEM, "workspace");
  ws->mode = spec->mode;
  for (size_t i = 0; i < WS_MAX_HANDLES; i++)
    ws->h[i].fd = ws->h[i].dirfd = -1;
  for (size_t i = 0; i < 1 + WS_MAX_VOLUMES; i++)
    ws->roots[i].fd = -1;
  for (const char *const *p = prot; *p; p++)
    if (strv_push (&ws->protected, *p) < 0)
      goto nomem;
  if (ws->protected == NULL && strv_push (&ws->protected, "") < 0)
    goto nomem;
  if (spec->mode == BROKER_WS_OFF)
    {
      *out = steal_ptr (&ws);
      return 0;
    }
  ws->roots[0].target = strdup ("");
  ws->roots[0].fd = open (spec->dir ? spec->dir : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  ws->roots[0].writable = spec->mode != BROKER_WS_RO;
  ws->n_roots = 1;
  if (ws->roots[0].fd < 0 || fstat (ws->roots[0].fd, &st) < 0)
    {
      int e = errno;
      broker_workspace_close (steal_ptr (&ws));
      return tr_fail (err, e,
                      "workspace %s: cannot open it (pass an existing directory, or turn the "
                      "workspace off: sandbox.mount_current_dir: false)",
                      spec->dir ? spec->dir : ".");
    }
  ws->owner_uid = st.st_uid;
  ws->owner_gid = st.st_gid;
  if (geteuid () == 0)
    {
      /* The sandbox maps its root to the workspace owner (docs/sandbox.md);
       * the broker acts as that owner too.  */
      ws->switch_id = true;
      ws->uid = st.st_uid;
      ws->gid = st.st_gid;
      ws->ngroups = getgroups (0, NULL);
      if (ws->ngroups > 0)
        {
          ws->groups = calloc ((size_t) ws->ngroups, sizeof *ws->groups);
          if (ws->groups == NULL || getgroups (ws->ngroups, ws->groups) < 0)
            ws->ngroups = 0;
        }
      else
        ws->ngroups = 0;
    }
  for (size_t i = 0; i < spec->n_volumes; i++)
    {
      const struct broker_volume *v = &spec->volumes[i];
      char norm[WS_PATH_MAX];
      const char *why;
      struct ws_root *r;

      if (ws->n_roots > WS_MAX_VOLUMES)
        {
          broker_workspace_close (steal_ptr (&ws));
          return tr_fail (err, 0, "sandbox.volumes: at most %d volumes beneath /workspace",
                          WS_MAX_VOLUMES);
        }
      if (broker_ws_check_path (v->target, norm, sizeof norm, &why) < 0 || strcmp (norm, ".") == 0)
        {
          broker_workspace_close (steal_ptr (&ws));
          return tr_fail (err, 0, "sandbox.volumes: target /workspace/%s: %s", v->target,
                          why ? why : "the workspace itself cannot be a volume");
        }
      /* The target is served by name, never mounted, but a directory on
       * its way that is a symlink (or a file) in the workspace makes the
       * configuration mean two things: refused.  */
      for (char *slash = strchr (norm, '/'); slash; slash = strchr (slash + 1, '/'))
        {
          int fd;
          *slash = '\0';
          fd = broker_ws_open_beneath (ws->roots[0].fd, norm, O_PATH | O_DIRECTORY, false);
          if (fd < 0 && errno != ENOENT)
            {
              int e = errno;
              broker_workspace_close (steal_ptr (&ws));
              return tr_fail (err, e,
                              "sandbox.volumes: target /workspace/%s: /workspace/%s is a symlink "
                              "or not a directory in the workspace (a volume is never served "
                              "through a symlink)",
                              v->target, norm);
            }
          *slash = '/';
          if (fd < 0)
            break;
          close (fd);
        }
      r = &ws->roots[ws->n_roots++];
      r->target = strdup (norm);
      r->target_len = strlen (norm);
      r->writable = v->writable;
      r->fd = open (v->source, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (r->target == NULL || r->fd < 0)
        {
          int e = r->target ? errno : ENOMEM;
          broker_workspace_close (steal_ptr (&ws));
          return tr_fail (err, e, "sandbox.volumes: %s -> /workspace/%s: open the source",
                          v->source, norm);
        }
    }
  if (spec->mode == BROKER_WS_OVERLAY)
    {
      ws->ov = overlay_new (spec->overlay_bytes ? spec->overlay_bytes : DEFAULT_OVERLAY_BYTES);
      if (ws->ov == NULL)
        goto nomem;
    }
  *out = steal_ptr (&ws);
  return 0;
nomem:
  broker_workspace_close (steal_ptr (&ws));
  return tr_fail (err, ENOMEM, "workspace");
}

bool
broker_workspace_owner (const struct broker_workspace *ws, uid_t *uid, gid_t *gid)
{
  if (ws == NULL || ws->n_roots == 0)
    return false;
  *uid = ws->owner_uid;
  *gid = ws->owner_gid;
  return true;
}

void
ws_handle_release (struct broker_workspace *ws, struct ws_handle *h, bool remove_tmp)
{
  if (!h->used)
    return;
  if (remove_tmp && h->tmp[0] && h->dirfd >= 0)
    {
      ws_id_enter (ws);
      unlinkat (h->dirfd, h->tmp, 0);
      ws_id_leave (ws);
    }
  if (h->fd >= 0)
    close (h->fd);
  if (h->dirfd >= 0)
    close (h->dirfd);
  free (h->path);
  memset (h, 0, sizeof *h);
  h->fd = h->dirfd = -1;
}

void
broker_workspace_close (struct broker_workspace *ws)
{
  if (ws == NULL)
    return;
  for (size_t i = 0; i < WS_MAX_HANDLES; i++)
    ws_handle_release (ws, &ws->h[i], true);
  for (size_t i = 0; i < 1 + WS_MAX_VOLUMES; i++)
    {
      if (ws->roots[i].fd >= 0)
        close (ws->roots[i].fd);
      free (ws->roots[i].target);
    }
  overlay_free (ws->ov);
  strv_free (ws->protected);
  free (ws->groups);
  free (ws);
}

/* ---- policy: one place ------------------------------------------------------ */

const char *
ws_mode_name (enum broker_ws_mode m)
{
  return m == BROKER_WS_RO        ? "ro"
         : m == BROKER_WS_OVERLAY ? "overlay"
         : m == BROKER_WS_OFF     ? "off"
                                  : "rw";
}

/* May the run change PATH (NORM, under root R)?  */
int
ws_may_write (const struct broker_workspace *ws, size_t r, const char *path, const char *norm,
              struct ws_error *e)
{
  const char *entry = NULL;
  size_t len;

  if (protected_component ((const char *const *) ws->protected, norm, &len, &entry))
    {
      e->violation = true;
      return ws_fail (e, "PermissionDenied",
                      "PermissionDenied: '%.300s' is protected (sandbox.protected_paths)", path);
    }
  if (!ws->roots[r].writable)
    {
      e->violation = true;
      if (r == 0)
        return ws_fail (e, "PermissionDenied",
                        "'%.300s': Read-only file system (PermissionDenied: the workspace is "
                        "read-only, sandbox.mount_current_dir: ro)",
                        path);
      return ws_fail (e, "PermissionDenied",
                      "'%.300s': Read-only file system (PermissionDenied: the volume at "
                      "/workspace/%s is read-only)",
                      path, ws->roots[r].target);
    }
  return 0;
}

/* ---- the trace ---------------------------------------------------------------- */

static void
access_event (struct broker_state *b, const char *op, const char *path, const char *to,
              long long bytes, const struct ws_error *e)
{
  cJSON *ev = cJSON_CreateObject ();

  cJSON_AddStringToObject (ev, "event_type", "file_access");
  cJSON_AddStringToObject (ev, "operation", op);
  cJSON_AddStringToObject (ev, "path", path ? path : "");
  if (to)
    cJSON_AddStringToObject (ev, "to", to);
  if (bytes >= 0)
    cJSON_AddNumberToObject (ev, "bytes", (double) bytes);
  if (b->o->workspace)
    cJSON_AddStringToObject (ev, "workspace_mode", ws_mode_name (b->o->workspace->mode));
  cJSON_AddStringToObject (ev, "status",
                           e == NULL                                   ? "ok"
                           : strcmp (e->type, "PermissionDenied") == 0 ? "denied"
                                                                       : "failed");
  if (e)
    cJSON_AddStringToObject (ev, "message", e->msg);
  trace_event (b->o->trace, ev);
  cJSON_Delete (ev);
  if (e && e->violation)
    {
      ev = cJSON_CreateObject ();
      cJSON_AddStringToObject (ev, "event_type", "policy_violation");
      cJSON_AddStringToObject (ev, "level", "WARNING");
      cJSON_AddStringToObject (ev, "operation", op);
      cJSON_AddStringToObject (ev, "path", path ? path : "");
      {
        char msg[800];
        snprintf (msg, sizeof msg, "File %s refused: %s", op, e->msg);
        cJSON_AddStringToObject (ev, "message", msg);
      }
      trace_event (b->o->trace, ev);
      cJSON_Delete (ev);
    }
}

/* ---- dispatch ------------------------------------------------------------------ */

void
broker_fs (struct broker_state *b, const cJSON *id, const char *op, const cJSON *params)
{
  struct broker_workspace *ws = b->o->workspace;
  struct ws_error e = { 0 };
  struct ws_result res = { .fd = -1, .bytes = -1 };
  const char *path = param_str (params, "path"), *mode = param_str (params, "mode");
  const char *event_op = op;
  char norm[WS_PATH_MAX], norm2[WS_PATH_MAX], hpath[WS_PATH_MAX] = "";
  const char *why = NULL;
  bool is_open = strcmp (op, "open") == 0, is_handle = false;
  int r;

  if (is_open)
    {
      if (mode == NULL
          || (strcmp (mode, "read") != 0 && strcmp (mode, "write") != 0
              && strcmp (mode, "append") != 0))
        return broker_violation (b, id, "fs.open needs params.mode: read, write or append");
      event_op = mode;
    }
  else if (strcmp (op, "commit") == 0 || strcmp (op, "abort") == 0)
    is_handle = true;
  else if (strcmp (op, "stat") != 0 && strcmp (op, "list") != 0 && strcmp (op, "mkdir") != 0
           && strcmp (op, "remove") != 0 && strcmp (op, "rename") != 0)
    {
      broker_reply_error (b, id, "MethodNotFound", "unknown method 'fs.%.60s'", op);
      return;
    }
  if (strcmp (op, "rename") == 0)
    path = param_str (params, "from");
  if (!is_handle && path == NULL)
    return broker_violation (b, id, "fs.* methods need params.path (a string)");
  if (strcmp (op, "rename") == 0 && param_str (params, "to") == NULL)
    return broker_violation (b, id, "fs.rename needs params.from and params.to (strings)");

  if (!is_handle && broker_ws_check_path (path, norm, sizeof norm, &why) < 0)
    r = ws_fail (&e, "InvalidPath", "'%.300s': %s", path, why);
  else if (strcmp (op, "rename") == 0
           && broker_ws_check_path (param_str (params, "to"), norm2, sizeof norm2, &why) < 0)
    r = ws_fail (&e, "InvalidPath", "'%.300s': %s", param_str (params, "to"), why);
  else if (ws == NULL || ws->mode == BROKER_WS_OFF)
    r = ws_fail (&e, "PermissionDenied",
                 "no workspace is mounted (sandbox.mount_current_dir is off)");
  else if (ws_id_enter (ws) < 0)
    {
      ws_id_leave (ws);
      r = ws_fail (&e, "FileError",
                   "the broker cannot take the workspace owner's file-system ids (uid %u, gid "
                   "%u)",
                   (unsigned) ws->uid, (unsigned) ws->gid);
    }
  else
    {
      if (is_open && strcmp (mode, "read") == 0)
        r = ws_op_read (ws, path, norm, &res, &e);
      else if (is_open && strcmp (mode, "write") == 0)
        r = ws_op_write (ws, path, norm, &res, &e);
      else if (is_open)
        r = ws_op_append (ws, path, norm, &res, &e);
      else if (is_handle)
        {
          const struct ws_handle *h = ws_find_handle (ws, params);
          event_op = h && h->append ? "append" : "write";
          r = ws_op_commit (b, ws, params, strcmp (op, "abort") == 0, &res, &e, hpath,
                            sizeof hpath);
          path = hpath;
          if (strcmp (op, "abort") == 0)
            event_op = "abort";
        }
      else if (strcmp (op, "stat") == 0)
        r = ws_op_stat (ws, path, norm, &res, &e);
      else if (strcmp (op, "list") == 0)
        r = ws_op_list (ws, path, norm, &res, &e);
      else if (strcmp (op, "mkdir") == 0)
        r = ws_op_mkdir (ws, path, norm,
                         cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (params, "parents")), &res,
                         &e);
      else if (strcmp (op, "remove") == 0)
        r = ws_op_remove (ws, path, norm, &res, &e);
      else
        r = ws_op_rename (ws, path, norm, param_str (params, "to"), norm2, &res, &e);
      ws_id_leave (ws);
    }
  if (r == WS_VIOLATION)
    return broker_violation (b, id,
                             "fs.commit/fs.abort need params.handle, a file open for writing");
  /* Opening for writing is traced when it is committed, with its size.  */
  if (r < 0 || !(is_open && strcmp (mode, "read") != 0))
    access_event (b, event_op, path, res.to[0] ? res.to : NULL, r < 0 ? -1 : res.bytes,
                  r < 0 ? &e : NULL);
  if (r < 0)
    {
      cJSON_Delete (res.data);
      broker_reply_error (b, id, e.type, "%s", e.msg);
      return;
    }
  broker_reply_fd (b, id, "done", res.data, res.fd);
  if (res.own_fd && res.fd >= 0)
    close (res.fd);
}

/* ---- local modules ---------------------------------------------------------- */

/* A local module NAME.tac beside the procedure.  NAME was checked by the VM
 * too, but only this check counts: no absolute paths, no '..', and the
 * file is opened beneath the procedure's directory without following any
 * symlink.  */
void
broker_module_load (struct broker_state *b, const cJSON *id, const cJSON *params)
{
  const char *name = param_str (params, "name");
  const char *dirpath = b->o->procedure_dir ? b->o->procedure_dir : ".";
  char path[1024];
  struct stat st;
  cleanup_free char *buf = NULL;
  cleanup_close int dir = -1, o = -1, fd = -1;
  struct ws_error e = { 0 };
  ssize_t n = -1;
  cJSON *data;

  if (name == NULL || name[0] == '\0' || name[0] == '/' || strstr (name, "..")
      || strlen (name) > 200
      || strspn (name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./")
             != strlen (name))
    {
      ws_fail (&e, "NotFound", "module '%s': only modules beside the procedure may be loaded",
               name ? name : "");
      access_event (b, "module", name ? name : "", NULL, -1, &e);
      broker_reply_error (b, id, e.type, "%s", e.msg);
      return;
    }
  snprintf (path, sizeof path, "%s.tac", name);
  dir = open (dirpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
  o = dir < 0 ? -1 : broker_ws_open_beneath (dir, path, O_PATH | O_NOFOLLOW, broker_ws_force_walk);
  if (o < 0 || fstat (o, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size > MAX_MODULE_SIZE
      || (fd = ws_reopen (o, O_RDONLY)) < 0 || (buf = malloc ((size_t) st.st_size + 1)) == NULL
      || (n = read (fd, buf, (size_t) st.st_size)) != st.st_size)
    {
      int err = errno;
      ws_fail (&e, "NotFound", "module '%s': %s/%s: %s", name, dirpath, path,
               o < 0 ? (err == ELOOP || err == ENOTDIR ? "a symlink in the path (symlinks are "
                                                         "not followed)"
                                                       : strerror (err))
               : n < 0 && fd >= 0 ? "read failed"
                                  : "not a regular file under 4 MiB");
      access_event (b, "module", path, NULL, -1, &e);
      broker_reply_error (b, id, e.type, "%s", e.msg);
      return;
    }
  buf[n] = '\0';
  access_event (b, "module", path, NULL, n, NULL);
  data = cJSON_CreateObject ();
  cJSON_AddStringToObject (data, "source", buf);
  cJSON_AddStringToObject (data, "path", path);
  broker_reply (b, id, "done", data);
}
