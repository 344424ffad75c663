/* The network: the sandbox gets a new, empty network namespace.  Its only
 * interface is `lo`, which starts DOWN; bringing it up (with libnl, over
 * rtnetlink) gives the payload 127.0.0.1 and ::1 and nothing else.  There is
 * no route out: no other interface exists in this namespace.  */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "sandbox/internal.h"

int
net_loopback_up (struct tr_error *err)
{
  struct nl_sock *sk = nl_socket_alloc ();
  struct rtnl_link *lo = NULL, *change = NULL;
  int r;

  if (sk == NULL)
    return tr_fail (err, ENOMEM, "network: netlink socket");
  r = nl_connect (sk, NETLINK_ROUTE);
  if (r == 0)
    r = rtnl_link_get_kernel (sk, 0, "lo", &lo);
  if (r == 0)
    {
      change = rtnl_link_alloc ();
      if (change == NULL)
        r = -NLE_NOMEM;
      else
        {
          rtnl_link_set_flags (change, IFF_UP);
          r = rtnl_link_change (sk, lo, change, 0);
        }
    }
  if (change)
    rtnl_link_put (change);
  if (lo)
    rtnl_link_put (lo);
  nl_socket_free (sk);
  if (r < 0)
    return tr_fail (err, 0, "network: bring lo up in the new network namespace: %s",
                    nl_geterror (r));
  return 0;
}

/* Made here, inside the cage's network namespace, because a socket belongs
 * to the namespace it was created in: connections the cage makes to
 * 127.0.0.1:PORT arrive on it, and whoever holds the fd outside (the
 * launcher) accepts them.  Nothing else outside is reachable: the namespace
 * has no other interface.  */
int
net_listen_loopback (uint16_t port, struct tr_error *err)
{
  struct sockaddr_in a = { .sin_family = AF_INET,
                           .sin_port = htons (port),
                           .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int one = 1, fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return tr_fail (err, errno, "network: a listening socket for 127.0.0.1:%u", port);
  if (setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
      || bind (fd, (struct sockaddr *) &a, sizeof a) < 0 || listen (fd, 128) < 0)
    {
      int e = errno;
      close (fd);
      return tr_fail (err, e, "network: listen on 127.0.0.1:%u in the sandbox", port);
    }
  return fd;
}
