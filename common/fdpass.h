/* Passing file descriptors over a unix socket (SCM_RIGHTS), in one place.  */
#ifndef TR_FDPASS_H
#define TR_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#define FDPASS_MAX 8

/* Send LEN bytes of DATA (LEN > 0) with NFDS descriptors as one message.
 * Returns 0, or -1 with errno.  */
int fd_send (int sock, const void *data, size_t len, const int *fds, int nfds);

/* Receive one message into DATA (at most LEN bytes) and up to MAXFDS
 * descriptors (O_CLOEXEC).  *NFDS is how many came; extra ones are closed.
 * Returns the bytes received (0 at EOF), or -1 with errno.  */
ssize_t fd_recv (int sock, void *data, size_t len, int *fds, int maxfds, int *nfds);

#endif
