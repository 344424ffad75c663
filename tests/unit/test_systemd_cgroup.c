/* shim/cgroup_systemd.c: the "slice:prefix:name" cgroupsPath of the
 * systemd cgroup driver -> slice, scope unit and cgroup path (runc's and
 * systemd's rules), and the state record.  The D-Bus side needs systemd as
 * PID 1: tests/vm/systemd.sh.  */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim/cgroup_systemd.h"
#include "tests/unit/unit.h"

static void
ok (const char *path, const char *slice, const char *unit, const char *rel)
{
  struct sd_cgroup_path p;
  struct tr_error err;
  char name[512];
  int r;

  tr_error_clear (&err);
  r = systemd_cgroup_parse (path, "ctr1", &p, &err);
  snprintf (name, sizeof name, "systemd cgroupsPath \"%s\" -> %s", path ? path : "(none)", rel);
  report (r == 0 && strcmp (p.slice, slice) == 0 && strcmp (p.unit, unit) == 0
              && strcmp (p.rel, rel) == 0,
          name, "r=%d slice=%s unit=%s rel=%s err=%s", r, r == 0 ? p.slice : "",
          r == 0 ? p.unit : "", r == 0 ? p.rel : "", err.msg);
}

static void
bad (const char *path, const char *want)
{
  struct sd_cgroup_path p;
  struct tr_error err;
  char name[512];
  int r;

  tr_error_clear (&err);
  r = systemd_cgroup_parse (path, "ctr1", &p, &err);
  snprintf (name, sizeof name, "systemd cgroupsPath \"%s\" is refused (%s)", path, want);
  for (char *c = name; *c; c++)
    if (*c < ' ')
      *c = '?';
  report (r < 0 && strstr (err.msg, want) != NULL && strstr (err.msg, "linux.cgroupsPath"), name,
          "r=%d err=%s", r, err.msg);
}

int
main (void)
{
  char dir[] = "/tmp/tr-sdcg-XXXXXX", unit[256];
  struct tr_error err;

  /* kubelet (systemd driver) + containerd */
  ok ("kubepods-besteffort-pod1234.slice:cri-containerd:abc", "kubepods-besteffort-pod1234.slice",
      "cri-containerd-abc.scope",
      "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234.slice/"
      "cri-containerd-abc.scope");
  /* podman --cgroup-manager=systemd */
  ok ("machine.slice:libpod:abc", "machine.slice", "libpod-abc.scope",
      "/machine.slice/libpod-abc.scope");
  ok (":tactus:x", "system.slice", "tactus-x.scope", "/system.slice/tactus-x.scope");
  ok ("user.slice::x", "user.slice", "x.scope", "/user.slice/x.scope");
  ok ("-.slice:p:x", "-.slice", "p-x.scope", "/p-x.scope");
  ok ("", "system.slice", "tactus-runc-ctr1.scope", "/system.slice/tactus-runc-ctr1.scope");
  ok (NULL, "system.slice", "tactus-runc-ctr1.scope", "/system.slice/tactus-runc-ctr1.scope");

  bad ("/kubepods/pod1/abc", "slice:prefix:name");
  bad ("a:b", "slice:prefix:name");
  bad ("a.slice:b:c:d", "slice:prefix:name");
  bad ("system.slice:p:", "name (after the second ':') is empty");
  bad ("system:p:x", "not a slice name");
  bad ("a--b.slice:p:x", "may not start or end");
  bad ("-a.slice:p:x", "may not start or end");
  bad ("a-.slice:p:x", "may not start or end");
  bad ("a/b.slice:p:x", "not a slice name");
  bad ("system.slice:p:../../x", "only letters");
  bad ("system.slice:p/q:x", "only letters");
  bad ("system.slice:p:x\ny", "only letters");
  bad ("system.slice:p:x.slice", "is a scope");

  report (systemd_cgroup_is_unit_path ("a.slice:b:c") && !systemd_cgroup_is_unit_path ("/a:b")
              && !systemd_cgroup_is_unit_path ("") && !systemd_cgroup_is_unit_path (NULL)
              && !systemd_cgroup_is_unit_path ("plain"),
          "systemd cgroupsPath: only a relative path with ':' is a unit path", "%s", "");

  /* The state record: written, read back; garbage is not a unit.  */
  tr_error_clear (&err);
  if (mkdtemp (dir) == NULL)
    {
      report (false, "systemd unit record", "mkdtemp");
      return 1;
    }
  report (!systemd_unit_of (dir, unit, sizeof unit), "systemd unit record: none", "%s", "");
  report (systemd_unit_record (dir, "cri-containerd-abc.scope", &err) == 0
              && systemd_unit_of (dir, unit, sizeof unit)
              && strcmp (unit, "cri-containerd-abc.scope") == 0,
          "systemd unit record: read back", "%s", err.msg);
  report (systemd_unit_record (dir, "evil;rm -rf.scope", &err) == 0
              && !systemd_unit_of (dir, unit, sizeof unit),
          "systemd unit record: a record that is not a unit name is ignored", "%s", "");
  snprintf (unit, sizeof unit, "%s/systemd-unit", dir);
  unlink (unit);
  rmdir (dir);
  return failures ? 1 : 0;
}
