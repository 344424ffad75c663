/* Privileges: whatever the sandbox root held in its user namespace is
 * removed for good before the payload runs.
 *   1. securebits locked, so uid 0 inside never regains capabilities on
 *      exec (NOROOT) or on setuid (NO_SETUID_FIXUP), and ambient caps can
 *      never be raised;
 *   2. no_new_privs, so exec can never add privileges (setuid bits, file
 *      capabilities), and seccomp can be installed;
 *   3. every capability dropped from all five sets: ambient (one call),
 *      bounding (one call per capability the kernel knows: the loop ends
 *      at the first the kernel refuses as unknown), then effective,
 *      permitted and inheritable with one capset.  libcap-ng did the same
 *      after probing every capability twice: over a hundred prctl calls on
 *      every run's start, for nothing the kernel does not tell us here.
 * Steps 1 and 3's bounding drop need CAP_SETPCAP, so they come before the
 * capset.  privs_verify_none then checks every set.  */
#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/internal.h"

int
privs_drop_all (struct tr_error *err)
{
  const unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP
                             | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED
                             | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

  if (prctl (PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
    return tr_fail (err, errno, "capabilities: lock securebits");
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return tr_fail (err, errno, "no_new_privs");
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct none[2] = { { 0 } };

  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
    return tr_fail (err, errno, "capabilities: clear the ambient set");
  for (int cap = 0; cap < 64; cap++)
    if (prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
      {
        if (errno == EINVAL && cap > 0)
          break; /* past the last capability this kernel knows */
        return tr_fail (err, errno, "capabilities: drop %d from the bounding set", cap);
      }
  if (syscall (SYS_capset, &hdr, none) < 0)
    return tr_fail (err, errno, "capabilities: drop all");
  return privs_verify_none (err);
}

int
privs_verify_none (struct tr_error *err)
{
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2];

  if (syscall (SYS_capget, &hdr, data) < 0)
    return tr_fail (err, errno, "capabilities: capget");
  for (int i = 0; i < 2; i++)
    if (data[i].effective || data[i].permitted || data[i].inheritable)
      return tr_fail (err, 0, "capabilities: some are still held after the drop");
  for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
    {
      if (prctl (PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
        return tr_fail (err, 0, "capabilities: %d is still in the bounding set", cap);
      if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1)
        return tr_fail (err, 0, "capabilities: %d is still ambient", cap);
    }
  return 0;
}
