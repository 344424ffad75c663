/* The user's own directories, kept outside any workspace, and files in
 * them written so that nobody else's link or file can take their place.
 *
 *   state    $XDG_STATE_HOME/tactus-run (default ~/.local/state/tactus-run):
 *            the trust store (policy/trust.c), the checkpoint key and the
 *            checkpoint files (broker/checkpoint_store.c)
 *   runtime  the warm pool's socket directory: $XDG_RUNTIME_DIR/tactus-run,
 *            /run/tactus-run for root, else /tmp/tactus-run-UID
 *
 * A private directory is a real directory (never followed through a
 * symlink), owned by the effective uid, with no permission for group or
 * others; anything else is refused with a message naming its owner and
 * mode.  Files beneath are opened with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) and replaced by an O_EXCL temporary renamed over
 * them.  libc only: the pool client (static) links this file too.  */
#ifndef TR_USERDIR_H
#define TR_USERDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* $HOME, else the password database's home of the real uid; NULL if none.  */
const char *userdir_home (void);
int userdir_state_path (char *buf, size_t size, struct tr_error *err);
void userdir_runtime_path (char *buf, size_t size);

/* The warm pool's socket, SOCK_NAME in the runtime directory; the
 * directory is made when MAKE (the server), and must be private (both
 * ends): another user who made it first gets an error, never a
 * connection.  */
#define USERDIR_POOL_SOCKET "pool.sock"
int userdir_pool_socket (char *buf, size_t size, bool make, struct tr_error *err);
/* The process at the other end of the connected unix socket SOCK (PATH in
 * messages) runs as us or as root; else -1 with ERR.  */
int userdir_check_server (int sock, const char *path, struct tr_error *err);

/* Open the private directory PATH (O_DIRECTORY), creating it (0700) and its
 * missing parents when CREATE; -1 with ERR when it is not private.  With
 * CREATE false, a missing directory is -1 with errno ENOENT and ERR set.  */
int userdir_open (const char *path, bool create, struct tr_error *err);
/* The same for NAME, one component beneath DIRFD; DISPLAY names DIRFD.  */
int userdir_open_at (int dirfd, const char *display, const char *name, bool create,
                     struct tr_error *err);

/* NAME beneath DIRFD, a regular file of at most MAX bytes, into a malloc'd
 * NUL-terminated buffer; 0 with *BUF NULL when it does not exist.  */
int userdir_read (int dirfd, const char *display, const char *name, size_t max, char **buf,
                  size_t *len, struct tr_error *err);
/* Replace NAME beneath DIRFD with DATA (a new 0600 file, renamed over it).  */
int userdir_write (int dirfd, const char *display, const char *name, const void *data, size_t len,
                   struct tr_error *err);
/* Remove NAME beneath DIRFD; a missing file is not an error.  */
int userdir_remove (int dirfd, const char *display, const char *name, struct tr_error *err);
/* LEN secret bytes kept in NAME beneath DIRFD, drawn from getrandom the
 * first time; two processes making it at once agree on one (linkat).  */
int userdir_secret (int dirfd, const char *display, const char *name, uint8_t *key, size_t len,
                    struct tr_error *err);

/* PATH, a regular file of at most MAX bytes, into a malloc'd NUL-terminated
 * buffer, and the real path of the file read in REAL (from the open file,
 * so it is the file whose bytes these are); 0 with *BUF NULL when PATH
 * does not exist.  */
int tr_read_file (const char *path, size_t max, char **buf, size_t *len, char *real,
                  size_t realsize, struct tr_error *err);

/* openat2 (no glibc wrapper in Debian 12); where the kernel lacks it
 * (before 5.6, or under valgrind), tr_openat2_walk: one component at a
 * time with O_NOFOLLOW, for RESOLVE_BENEATH | NO_SYMLINKS | NO_MAGICLINKS.  */
int tr_openat2 (int dirfd, const char *path, int flags, unsigned long long resolve);
int tr_openat2_walk (int dirfd, const char *path, int flags, unsigned long long resolve);

#endif
