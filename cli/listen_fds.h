/* Socket activation (systemd's sd_listen_fds protocol) without libsystemd:
 * LISTEN_PID and LISTEN_FDS are plain environment variables and the
 * sockets start at fd 3.  */
#ifndef TR_CLI_LISTEN_FDS_H
#define TR_CLI_LISTEN_FDS_H

#include <stddef.h>

#include "common/error.h"

#define LISTEN_FDS_START 3

/* The one listening socket passed to this process: returns its fd (>= 3,
 * now close-on-exec) and its path in PATH, 0 when this process was not
 * socket-activated (no LISTEN_PID, or another process's), -1 with ERR
 * when it was but what it got is not exactly one listening AF_UNIX
 * SOCK_SEQPACKET socket.  LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are
 * removed from the environment either way, so no child inherits them.  */
int listen_fds_take (char *path, size_t size, struct tr_error *err);

#endif
