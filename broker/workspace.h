/* The pieces of broker/workspace.c that tests reach directly.  */
#ifndef TR_BROKER_WORKSPACE_H
#define TR_BROKER_WORKSPACE_H

#include <stdbool.h>
#include <stddef.h>

/* Check a workspace-relative PATH and write its normalized form to NORM
 * ("." components dropped; "." for the workspace itself).  -1 with *WHY
 * when it is refused: empty, absolute, '..' or an empty component, too
 * long.  */
int broker_ws_check_path (const char *path, char *norm, size_t size, const char **why);

/* Open REL (relative, no '..') beneath DIRFD with FLAGS, following no
 * symlink in any component: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
 * | RESOLVE_NO_MAGICLINKS), or, where the kernel has no openat2 (or
 * FORCE_WALK), one component at a time with O_NOFOLLOW.  */
int broker_ws_open_beneath (int dirfd, const char *rel, int flags, bool force_walk);

/* Tests: take the component walk even where openat2 exists.  */
extern bool broker_ws_force_walk;

/* ---- inside the broker: shared by workspace.c, ws_paths.c, ws_ops.c ---- */
#ifdef TR_BROKER_WS_INTERNAL
#include <sys/types.h>

struct cJSON;
struct broker_state;

#define WS_MAX_HANDLES 4
#define WS_MAX_VOLUMES 32
#define WS_PATH_MAX 4096
#define DEFAULT_OVERLAY_BYTES (64ull << 20)

/* The workspace itself (index 0) and the volumes beneath it.  */
struct ws_root
{
  char *target; /* "" for the workspace, else "data", "vol/x" */
  size_t target_len;
  int fd; /* O_PATH directory */
  bool writable;
};

/* A file the VM has open for writing.  */
struct ws_handle
{
  bool used;
  bool append;
  bool overlay; /* FD is a memfd for the overlay's upper layer */
  int dirfd;    /* the directory holding the target (not for overlay) */
  char *path;   /* normalized, for the overlay and the trace */
  char base[256];
  char tmp[300]; /* the temporary beside the target ("" for append) */
  int fd;        /* the broker's own copy */
  off_t start;   /* append: the size when opened */
};

struct broker_workspace
{
  enum broker_ws_mode mode;
  struct ws_root roots[1 + WS_MAX_VOLUMES];
  size_t n_roots;
  char **protected;
  struct overlay *ov;
  struct ws_handle h[WS_MAX_HANDLES];
  unsigned serial; /* handles and temporary names */
  uid_t owner_uid; /* the workspace directory's owner */
  gid_t owner_gid;
  /* A root launcher's file-system identity for the work (see above).  */
  bool switch_id;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  int ngroups;
};

/* The error of a request: its type (docs/protocol.md) and message.  */
struct ws_error
{
  const char *type;
  char msg[700];
  bool violation; /* a refused write: also a policy_violation event */
};

enum ws_type
{
  WS_NONE = 0,
  WS_FILE,
  WS_DIR,
  WS_SYMLINK,
  WS_OTHER,
};

/* What a method hands back: DATA for the done event, FD for the VM (closed
 * after the reply when OWN_FD), BYTES and TO for the trace event.  */
struct ws_result
{
  cJSON *data;
  int fd;
  bool own_fd;
  long long bytes;
  char to[WS_PATH_MAX];
};

enum
{
  WS_VIOLATION = -2, /* bad params: a protocol violation */
};

int ws_fail (struct ws_error *e, const char *type, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* An errno as the message the VM shows.  */
int ws_errno (struct ws_error *e, const char *path, int errnum);
/* A directory of the path could not be opened (a symlink, not a directory...).  */
int ws_parent_error (struct ws_error *e, const char *path, int errnum);
/* The root (0: the workspace, else a volume) NORM lies under; *REST below it.  */
size_t ws_pick_root (const struct broker_workspace *ws, const char *norm, const char **rest);
/* NORM is a directory only because a volume lies below it.  */
bool ws_volume_parent (const struct broker_workspace *ws, const char *norm);
/* The directory holding REST's last component beneath ROOTFD; *BASE is it.  */
int ws_open_parent (const struct broker_workspace *ws, int rootfd, const char *rest, char *buf,
                    size_t size, const char **base);
/* A new open file description of the O_PATH fd FD's object.  */
int ws_reopen (int fd, int flags);
/* A root launcher acts as the workspace owner between these.  */
int ws_id_enter (const struct broker_workspace *ws);
void ws_id_leave (const struct broker_workspace *ws);

const char *ws_type_name (enum ws_type t);
enum ws_type ws_mode_type (mode_t m);
int ws_lower_stat (const struct broker_workspace *ws, size_t r, const char *rest, const char *path,
                   enum ws_type *type, off_t *size, struct ws_error *e);
/* What NORM is in the VM's view (the overlay's upper layer over the host).  */
int ws_merged_stat (const struct broker_workspace *ws, const char *path, const char *norm,
                    enum ws_type *type, off_t *size, struct ws_error *e);
void ws_dirname (const char *norm, char *buf, size_t size);
int ws_need_parent_dir (const struct broker_workspace *ws, const char *path, const char *norm,
                        struct ws_error *e);
int ws_new_memfd (void);
int ws_copy_to_memfd (int from, off_t size);
int ws_lower_open_read (const struct broker_workspace *ws, size_t r, const char *rest,
                        const char *path, off_t *size, struct ws_error *e);

/* workspace.c */
const char *ws_mode_name (enum broker_ws_mode m);
int ws_may_write (const struct broker_workspace *ws, size_t r, const char *path, const char *norm,
                  struct ws_error *e);
void ws_handle_release (struct broker_workspace *ws, struct ws_handle *h, bool remove_tmp);

/* ws_ops.c: the methods; -1 with E filled, WS_VIOLATION for bad params.  */
int ws_op_read (struct broker_workspace *ws, const char *path, const char *norm,
                struct ws_result *res, struct ws_error *e);
int ws_op_write (struct broker_workspace *ws, const char *path, const char *norm,
                 struct ws_result *res, struct ws_error *e);
int ws_op_append (struct broker_workspace *ws, const char *path, const char *norm,
                  struct ws_result *res, struct ws_error *e);
struct ws_handle *ws_find_handle (struct broker_workspace *ws, const struct cJSON *params);
int ws_op_commit (struct broker_state *b, struct broker_workspace *ws, const struct cJSON *params,
                  bool abort_it, struct ws_result *res, struct ws_error *e, char *path,
                  size_t size);
int ws_op_stat (struct broker_workspace *ws, const char *path, const char *norm,
                struct ws_result *res, struct ws_error *e);
int ws_op_list (struct broker_workspace *ws, const char *path, const char *norm,
                struct ws_result *res, struct ws_error *e);
int ws_op_mkdir (struct broker_workspace *ws, const char *path, const char *norm, bool parents,
                 struct ws_result *res, struct ws_error *e);
int ws_op_remove (struct broker_workspace *ws, const char *path, const char *norm,
                  struct ws_result *res, struct ws_error *e);
int ws_op_rename (struct broker_workspace *ws, const char *from, const char *nfrom, const char *to,
                  const char *nto, struct ws_result *res, struct ws_error *e);
#endif

#endif
