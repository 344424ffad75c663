/* The network: the sandbox gets a new, empty network namespace.  Its only
 * interface is `lo`, which starts DOWN; bringing it up (with libnl, over
 * rtnetlink) gives the payload 127.0.0.1 and ::1 and nothing else.  There is
 * no route out: no other interface exists in this namespace.  */
#include <errno.h>
#include <net/if.h>
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
