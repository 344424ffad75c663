/* Capabilities and ids of a container process, in runc's order:
 *   1. the bounding set (dropping needs CAP_SETPCAP, so before the uid
 *      switch);
 *   2. the ids: supplementary groups, gid, uid — with PR_SET_KEEPCAPS so
 *      the permitted set survives a switch to a non-zero uid;
 *   3. effective, permitted and inheritable (libcap-ng), then ambient.
 * Inheritable and ambient hold only what the config names: never a copy
 * of the bounding set (CVE-2022-29162).  */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <cap-ng.h>

#include "sandbox/container.h"

int
caps_last_cap (void)
{
  static int last = -1;

  if (last >= 0)
    return last;
  /* PR_CAPBSET_READ fails with EINVAL past the kernel's last capability.
   * /proc/sys/kernel/cap_last_cap is never read: after pivot_root (and in
   * an exec'd process that joined the mount namespace) it is the
   * container's, and a file bound over it would shrink the bounding-set
   * drop.  */
  for (int c = 0; c <= 63; c++)
    {
      if (prctl (PR_CAPBSET_READ, c, 0, 0, 0) >= 0)
        {
          last = c;
          continue;
        }
      if (errno != EINVAL)
        last = -1; /* refused (seccomp?): not an answer */
      break;
    }
  if (last < 0)
    last = CAP_LAST_CAP;
  return last;
}

int
caps_from_name (const char *name)
{
  if (strncasecmp (name, "CAP_", 4) != 0)
    return -1;
  for (int c = 0; c <= 63; c++)
    {
      const char *n = capng_capability_to_name ((unsigned) c);
      if (n && strcasecmp (n, name + 4) == 0)
        return c;
    }
  return -1;
}

const char *
caps_name (int cap)
{
  return capng_capability_to_name ((unsigned) cap);
}

int
caps_drop_bounding (const struct ct_caps *caps, struct tr_error *err)
{
  int last = caps_last_cap ();

  for (int c = 0; c <= last; c++)
    {
      if (caps->bounding & (1ull << c))
        continue;
      if (prctl (PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
        return tr_fail (err, errno, "capabilities: drop %s from the bounding set",
                        caps_name (c) ? caps_name (c) : "?");
    }
  return 0;
}

int
caps_switch_user (const struct ct_user *user, struct tr_error *err)
{
  if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return tr_fail (err, errno, "capabilities: keep them across the uid switch");
  if (user->set_groups && setgroups (user->n_groups, user->groups) < 0)
    return tr_fail (err, errno, "process.user.additionalGids: setgroups");
  if (setresgid (user->gid, user->gid, user->gid) < 0)
    return tr_fail (err, errno, "process.user.gid %u: setgid (is it mapped?)",
                    (unsigned) user->gid);
  if (setresuid (user->uid, user->uid, user->uid) < 0)
    return tr_fail (err, errno, "process.user.uid %u: setuid (is it mapped?)",
                    (unsigned) user->uid);
  return 0;
}

int
caps_apply (const struct ct_caps *caps, struct tr_error *err)
{
  int last = caps_last_cap ();

  capng_clear (CAPNG_SELECT_CAPS);
  for (int c = 0; c <= last; c++)
    {
      unsigned type = 0;
      if (caps->effective & (1ull << c))
        type |= CAPNG_EFFECTIVE;
      if (caps->permitted & (1ull << c))
        type |= CAPNG_PERMITTED;
      if (caps->inheritable & (1ull << c))
        type |= CAPNG_INHERITABLE;
      if (type && capng_update (CAPNG_ADD, (capng_type_t) type, (unsigned) c) < 0)
        return tr_fail (err, 0, "capabilities: %s", caps_name (c));
    }
  if (capng_apply (CAPNG_SELECT_CAPS) < 0)
    return tr_fail (err, errno,
                    "capabilities: set effective, permitted, inheritable "
                    "(a capability outside the bounding set?)");
  if (prctl (PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return tr_fail (err, errno, "capabilities: PR_SET_KEEPCAPS");
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return tr_fail (err, errno, "capabilities: clear ambient");
  /* An ambient capability must also be permitted and inheritable; runc
   * skips the ones that are not (its default spec lists ambient ones with
   * an empty inheritable set), and so do we: inheritable is never widened
   * to make them fit.  */
  for (int c = 0; c <= last; c++)
    if ((caps->ambient & (1ull << c)) && (caps->inheritable & (1ull << c))
        && (caps->permitted & (1ull << c))
        && prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
      return tr_fail (err, errno, "capabilities: raise ambient %s", caps_name (c));
  return 0;
}
