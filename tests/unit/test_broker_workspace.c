/* The broker's fs.* methods (broker/workspace.c) through the real broker
 * loop, against a fake VM: a forked process on the other end of the
 * SEQPACKET socketpair that sends requests as the VM would, receives the
 * descriptors that come with the replies and prints one PASS/FAIL line per
 * check.  What the .tac lane (tests/integration/workspace_files.sh) cannot
 * reach, because the VM never sends it:
 *   - the resolver itself, with openat2 and with the component walk the
 *     broker falls back to without it: the same answers for the same trees;
 *   - fs.rename (not a Tactus primitive): protected source or destination,
 *     case variants, a protected directory on the way, across a volume;
 *   - handles: more than four writes open, a commit of a bogus handle (a
 *     protocol violation), a descriptor sent by the VM (refused);
 *   - mkdir with parents, a protected component on the way;
 *   - a root broker acts as the workspace owner (files it creates belong to
 *     the owner, a root-only file is not readable);
 *   - overlay: the budget (ENOSPC at commit), a committed file sealed
 *     against the VM's own descriptor, rename of a file and of a directory
 *     (EXDEV, as overlayfs), a removed directory made again hides what the
 *     host has in it.  */
#define _GNU_SOURCE
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/workspace.h"
#include "common/frame.h"
#include "tests/unit/unit.h"

static char root[] = "/tmp/tactus-unit-ws.XXXXXX";
static char outside[600], ws_dir[600], vol_dir[600];

static void
on_alarm (int sig)
{
  static const char msg[] = "FAIL: broker workspace: the test did not end (watchdog)\n";
  (void) sig;
  if (write (1, msg, sizeof msg - 1) < 0)
    _exit (2);
  _exit (1);
}

static void
put (const char *dir, const char *rel, const char *text)
{
  char p[1200];
  FILE *f;

  snprintf (p, sizeof p, "%s/%s", dir, rel);
  f = fopen (p, "w");
  if (f)
    {
      fputs (text, f);
      fclose (f);
    }
}

static void
mk (const char *dir, const char *rel)
{
  char p[1200];
  snprintf (p, sizeof p, "%s/%s", dir, rel);
  mkdir (p, 0755);
}

static void
lnk (const char *dir, const char *rel, const char *target)
{
  char p[1200];
  snprintf (p, sizeof p, "%s/%s", dir, rel);
  if (symlink (target, p) < 0)
    perror (p);
}

static bool
exists (const char *dir, const char *rel)
{
  char p[1200];
  struct stat st;
  snprintf (p, sizeof p, "%s/%s", dir, rel);
  return lstat (p, &st) == 0;
}

/* ---- the fake VM ------------------------------------------------------------ */

static int vm_fd;
static unsigned next_id = 1;

/* Send a request (PARAMS: JSON object text) and read replies up to the
 * final one.  Returns it (parsed) and the descriptor that came with it.  */
static cJSON *
call (const char *method, const char *params, int *fd)
{
  char text[8192];
  struct frame_asm a = { .accept_fd = true };
  struct tr_error err;
  unsigned id = next_id++;

  *fd = -1;
  snprintf (text, sizeof text, "{\"id\":%u,\"method\":\"%s\",\"params\":%s}", id, method, params);
  if (frame_send (vm_fd, text, strlen (text), &err) < 0)
    _exit (100);
  for (;;)
    {
      cJSON *r, *ev;
      if (frame_recv (vm_fd, &a, &err) <= 0)
        _exit (101);
      r = cJSON_ParseWithLength (a.buf, a.len);
      ev = cJSON_GetObjectItemCaseSensitive (r, "event");
      if (cJSON_IsString (ev)
          && (strcmp (ev->valuestring, "done") == 0 || strcmp (ev->valuestring, "error") == 0))
        {
          *fd = frame_asm_take_fd (&a);
          frame_asm_free (&a);
          return r;
        }
      frame_asm_reset (&a);
      cJSON_Delete (r);
    }
}

/* "done" or the error's type, and its message in MSG.  */
static const char *
outcome (const cJSON *r, char *msg, size_t size)
{
  static char type[64];
  const cJSON *ev = cJSON_GetObjectItemCaseSensitive (r, "event");
  const cJSON *e = cJSON_GetObjectItemCaseSensitive (r, "error");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive (e, "type");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive (e, "message");

  snprintf (msg, size, "%s", cJSON_IsString (m) ? m->valuestring : "");
  if (cJSON_IsString (ev) && strcmp (ev->valuestring, "done") == 0)
    return "done";
  snprintf (type, sizeof type, "%s", cJSON_IsString (t) ? t->valuestring : "?");
  return type;
}

/* One request; PASS when its outcome is WANT ("done" or an error type) and
 * the message holds NEEDLE (when not NULL).  Returns the reply's data
 * number KEY (or -1), and the descriptor in *FD (when FD is not NULL; else
 * closed).  */
static double
expect_call (const char *name, const char *method, const char *params, const char *want,
             const char *needle, const char *key, int *fd)
{
  char msg[1024];
  int got_fd;
  cJSON *r = call (method, params, &got_fd);
  const char *o = outcome (r, msg, sizeof msg);
  const cJSON *v
      = key ? cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (r, "data"), key)
            : NULL;
  double val = cJSON_IsNumber (v) ? v->valuedouble : -1;

  report (strcmp (o, want) == 0 && (needle == NULL || strstr (msg, needle) != NULL), name,
          "%s %s -> %s: %s (want %s%s%s)", method, params, o, msg, want, needle ? " with " : "",
          needle ? needle : "");
  if (fd)
    *fd = got_fd;
  else if (got_fd >= 0)
    close (got_fd);
  cJSON_Delete (r);
  return val;
}

/* Write TEXT to PATH as File.write does: open, write, commit.  */
static const char *
vm_write (const char *path, const char *text, char *msg, size_t size)
{
  static char o[64];
  char params[1200];
  int fd;
  cJSON *r;
  double h;

  snprintf (params, sizeof params, "{\"path\":\"%s\",\"mode\":\"write\"}", path);
  r = call ("fs.open", params, &fd);
  snprintf (o, sizeof o, "%s", outcome (r, msg, size));
  h = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (r, "data"), "handle")
          ? cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (r, "data"),
                                              "handle")
                ->valuedouble
          : -1;
  cJSON_Delete (r);
  if (strcmp (o, "done") != 0)
    return o;
  if (fd < 0 || write (fd, text, strlen (text)) != (ssize_t) strlen (text))
    {
      snprintf (msg, size, "no descriptor, or the write failed");
      return "broken";
    }
  close (fd);
  snprintf (params, sizeof params, "{\"handle\":%g}", h);
  r = call ("fs.commit", params, &fd);
  snprintf (o, sizeof o, "%s", outcome (r, msg, size));
  cJSON_Delete (r);
  return o;
}

static char *
vm_read (const char *path)
{
  char params[1200], *buf = calloc (1, 1 << 20);
  int fd;
  ssize_t n;
  cJSON *r;

  snprintf (params, sizeof params, "{\"path\":\"%s\",\"mode\":\"read\"}", path);
  r = call ("fs.open", params, &fd);
  cJSON_Delete (r);
  if (fd < 0)
    {
      free (buf);
      return NULL;
    }
  n = read (fd, buf, (1 << 20) - 1);
  close (fd);
  if (n < 0)
    n = 0;
  buf[n] = '\0';
  return buf;
}

static bool
listed (const char *dir, const char *name)
{
  char params[1200];
  int fd;
  bool found = false;
  cJSON *r, *n;

  snprintf (params, sizeof params, "{\"path\":\"%s\"}", dir);
  r = call ("fs.list", params, &fd);
  cJSON_ArrayForEach (
      n, cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (r, "data"), "names"))
  {
    if (cJSON_IsString (n) && strcmp (n->valuestring, name) == 0)
      found = true;
  }
  cJSON_Delete (r);
  return found;
}

static int
count_fds (void)
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *de;
  int n = 0;

  while (d && (de = readdir (d)))
    n += de->d_name[0] != '.';
  if (d)
    closedir (d);
  return n;
}

/* The VM's side of the rw run.  */
static void
vm_rw (void)
{
  char msg[1024], params[512];
  int fd, hs[5];
  struct stat st, host;
  char p[1200];

  expect_call ("rw: run.start", "run.start", "{}", "done", NULL, NULL, NULL);
  /* A read hands over the host file itself.  */
  expect_call ("rw: fs.open read passes a descriptor", "fs.open",
               "{\"path\":\"a.txt\",\"mode\":\"read\"}", "done", NULL, NULL, &fd);
  snprintf (p, sizeof p, "%s/a.txt", ws_dir);
  report (fd >= 0 && fstat (fd, &st) == 0 && stat (p, &host) == 0 && st.st_ino == host.st_ino
              && (fcntl (fd, F_GETFL) & O_ACCMODE) == O_RDONLY,
          "rw: the descriptor is the host file, opened read-only", "fd %d", fd);
  if (fd >= 0)
    close (fd);

  /* rename, and its tricks.  */
  expect_call ("rw: fs.rename of a file", "fs.rename", "{\"from\":\"a.txt\",\"to\":\"b.txt\"}",
               "done", NULL, NULL, NULL);
  expect_call ("rw: fs.rename into .git refused", "fs.rename",
               "{\"from\":\"b.txt\",\"to\":\".git/hooks-post-checkout\"}", "PermissionDenied",
               "'.git/hooks-post-checkout' is protected", NULL, NULL);
  expect_call ("rw: fs.rename onto a new nested .git refused", "fs.rename",
               "{\"from\":\"d\",\"to\":\"sub/.git\"}", "PermissionDenied", "is protected", NULL,
               NULL);
  expect_call ("rw: fs.rename onto .GIT (case) refused", "fs.rename",
               "{\"from\":\"d\",\"to\":\".GIT\"}", "PermissionDenied", "is protected", NULL, NULL);
  expect_call ("rw: fs.rename of .gitmodules (the source) refused", "fs.rename",
               "{\"from\":\".gitmodules\",\"to\":\"gm\"}", "PermissionDenied",
               "'.gitmodules' is protected", NULL, NULL);
  expect_call ("rw: fs.rename of .git itself refused", "fs.rename",
               "{\"from\":\".git\",\"to\":\"notgit\"}", "PermissionDenied", "is protected", NULL,
               NULL);
  expect_call ("rw: fs.rename to a sidecar refused", "fs.rename",
               "{\"from\":\"b.txt\",\"to\":\"run.tac.yml\"}", "PermissionDenied", "is protected",
               NULL, NULL);
  expect_call ("rw: fs.rename between the workspace and a volume: cross-device", "fs.rename",
               "{\"from\":\"b.txt\",\"to\":\"vol/b.txt\"}", "FileError",
               "Invalid cross-device link", NULL, NULL);
  expect_call ("rw: fs.rename through a symlinked directory refused", "fs.rename",
               "{\"from\":\"b.txt\",\"to\":\"out/b.txt\"}", "FileError",
               "a directory in the path is a symlink", NULL, NULL);
  expect_call ("rw: fs.rename of a directory", "fs.rename", "{\"from\":\"d\",\"to\":\"d2\"}",
               "done", NULL, NULL, NULL);
  expect_call ("rw: fs.rename with '..' refused", "fs.rename",
               "{\"from\":\"b.txt\",\"to\":\"../b.txt\"}", "InvalidPath", "'..'", NULL, NULL);

  /* mkdir with parents.  */
  expect_call ("rw: fs.mkdir with parents", "fs.mkdir", "{\"path\":\"p/q/r\",\"parents\":true}",
               "done", NULL, NULL, NULL);
  expect_call ("rw: fs.mkdir with parents: a protected component refused", "fs.mkdir",
               "{\"path\":\"p/.git/hooks\",\"parents\":true}", "PermissionDenied", "is protected",
               NULL, NULL);
  expect_call ("rw: fs.mkdir without parents of a deep path", "fs.mkdir", "{\"path\":\"x/y/z\"}",
               "FileError", "No such file or directory", NULL, NULL);

  /* Volumes: read-only, and the volume's own files.  */
  expect_call ("rw: a read-only volume refuses writes", "fs.open",
               "{\"path\":\"deep/ro/new\",\"mode\":\"write\"}", "PermissionDenied",
               "Read-only file system (PermissionDenied: the volume at /workspace/deep/ro", NULL,
               NULL);
  {
    char *v = vm_read ("deep/ro/v.txt");
    report (v && strcmp (v, "volume\n") == 0, "rw: a volume's file is read", "got %s",
            v ? v : "(none)");
    free (v);
  }
  report (listed (".", "vol") && listed (".", "deep") && listed ("deep", "ro"),
          "rw: the volumes' mount points are listed (deep/ is there for deep/ro)",
          "not in fs.list");
  expect_call ("rw: a volume's mount point cannot be removed", "fs.remove", "{\"path\":\"vol\"}",
               "FileError", "a volume is mounted there", NULL, NULL);
  report (!exists (ws_dir, "deep"), "rw: no mount point is made on the host",
          "deep/ exists in the workspace");

  /* Handles.  */
  for (int i = 0; i < 5; i++)
    {
      snprintf (params, sizeof params, "{\"path\":\"h%d\",\"mode\":\"write\"}", i);
      hs[i]
          = (int) expect_call (i < 4 ? "rw: a write handle" : "rw: a fifth open write refused",
                               "fs.open", params, i < 4 ? "done" : "FileError",
                               i < 4 ? NULL : "more than 4 files open for writing", "handle", NULL);
    }
  for (int i = 0; i < 4; i++)
    {
      snprintf (params, sizeof params, "{\"handle\":%d}", hs[i]);
      expect_call ("rw: fs.abort", "fs.abort", params, "done", NULL, NULL, NULL);
    }
  expect_call ("rw: fs.commit of a bogus handle is a protocol violation", "fs.commit",
               "{\"handle\":3}", "BadRequest", NULL, NULL, NULL);
  expect_call ("rw: fs.open with a bad mode is a protocol violation", "fs.open",
               "{\"path\":\"a\",\"mode\":\"rw\"}", "BadRequest", NULL, NULL, NULL);

  /* The VM never sends a descriptor: a packet that says it carries one
   * is a violation, one that carries one without saying so is refused.  */
  {
    static const char req[] = "{\"id\":900,\"method\":\"fs.stat\",\"params\":{\"path\":\"p\"}}";
    uint8_t pkt[FRAME_HEADER + sizeof req];
    int devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    struct tr_error err;
    struct frame_asm a = { .accept_fd = true };
    cJSON *r;

    memcpy (pkt + FRAME_HEADER, req, sizeof req - 1);
    pkt[0] = 'T', pkt[1] = 1, pkt[2] = FRAME_FLAG_FD, pkt[3] = 0;
    pkt[4] = sizeof req - 1, pkt[5] = pkt[6] = pkt[7] = 0;
    {
      struct iovec iov = { pkt, FRAME_HEADER + sizeof req - 1 };
      union
      {
        char buf[CMSG_SPACE (sizeof (int))];
        struct cmsghdr al;
      } u;
      struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf
      };
      struct cmsghdr *c = CMSG_FIRSTHDR (&mh);
      memset (&u, 0, sizeof u);
      c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN (sizeof (int));
      memcpy (CMSG_DATA (c), &devnull, sizeof devnull);
      sendmsg (vm_fd, &mh, 0);
    }
    frame_recv (vm_fd, &a, &err);
    r = cJSON_ParseWithLength (a.buf, a.len);
    report (strstr (a.buf ? a.buf : "", "BadRequest") && strstr (a.buf, "unknown flags"),
            "rw: a packet from the VM with the descriptor flag is a violation", "got %s",
            a.buf ? a.buf : "(nothing)");
    cJSON_Delete (r);
    frame_asm_free (&a);
    close (devnull);
  }

  /* A root broker acts as the workspace owner (65534 here).  */
  if (geteuid () == 0)
    {
      snprintf (p, sizeof p, "%s/owned.txt", ws_dir);
      report (strcmp (vm_write ("owned.txt", "x", msg, sizeof msg), "done") == 0
                  && stat (p, &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534,
              "rw (root): a file the run creates belongs to the workspace's owner", "%s uid %d",
              msg, (int) st.st_uid);
      expect_call ("rw (root): a root-only file in the workspace is not readable", "fs.open",
                   "{\"path\":\"rootonly\",\"mode\":\"read\"}", "FileError", "Permission denied",
                   NULL, NULL);
    }

  /* The component walk (kernels without openat2) refuses what openat2
   * refuses.  */
  broker_ws_force_walk = true;
  expect_call ("rw (walk): a symlinked directory refused", "fs.open",
               "{\"path\":\"out/secret\",\"mode\":\"read\"}", "FileError",
               "a directory in the path is a symlink", NULL, NULL);
  expect_call ("rw (walk): a nested file read", "fs.open",
               "{\"path\":\"p/q/r/../r\",\"mode\":\"read\"}", "InvalidPath", "'..'", NULL, NULL);
  {
    char *v = vm_read ("sub/s.txt");
    report (v && strcmp (v, "s\n") == 0, "rw (walk): a nested file is read", "got %s",
            v ? v : "(none)");
    free (v);
  }
  broker_ws_force_walk = false;
  expect_call ("rw: run.finish", "run.finish", "{\"status\":\"success\"}", "done", NULL, NULL,
               NULL);
}

/* The VM's side of the overlay run (budget 64 KiB).  */
static void
vm_overlay (void)
{
  char msg[1024], big[100 * 1024];
  int fd;
  cJSON *r;
  double h;

  memset (big, 'z', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  expect_call ("overlay: run.start", "run.start", "{}", "done", NULL, NULL, NULL);
  report (strcmp (vm_write ("new.txt", "hello", msg, sizeof msg), "done") == 0, "overlay: a write",
          "%s", msg);
  {
    char *v = vm_read ("new.txt");
    report (v && strcmp (v, "hello") == 0 && listed (".", "new.txt"),
            "overlay: the run reads and lists what it wrote", "got %s", v ? v : "(none)");
    free (v);
  }
  report (strcmp (vm_write ("big.bin", big, msg, sizeof msg), "FileError") == 0
              && strstr (msg, "the disk is full"),
          "overlay: a file past the budget fails at commit: the disk is full", "%s", msg);
  /* After commit the VM's own descriptor cannot change the file.  */
  r = call ("fs.open", "{\"path\":\"sealed.txt\",\"mode\":\"write\"}", &fd);
  h = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (r, "data"), "handle")
          ->valuedouble;
  cJSON_Delete (r);
  if (write (fd, "abc", 3) != 3)
    report (false, "overlay: write to the handle", "%s", strerror (errno));
  {
    char params[64];
    int nfd;
    snprintf (params, sizeof params, "{\"handle\":%g}", h);
    r = call ("fs.commit", params, &nfd);
    cJSON_Delete (r);
  }
  report (write (fd, big, sizeof big - 1) < 0 && errno == EPERM,
          "overlay: a committed file is sealed against the VM's descriptor (EPERM)", "%s",
          strerror (errno));
  close (fd);
  expect_call ("overlay: rename of a host file", "fs.rename",
               "{\"from\":\"b.txt\",\"to\":\"moved.txt\"}", "done", NULL, NULL, NULL);
  {
    char *v = vm_read ("moved.txt");
    report (v && strcmp (v, "alpha\n") == 0 && !listed (".", "b.txt"),
            "overlay: the renamed file has the host file's content, the old name is gone", "got %s",
            v ? v : "(none)");
    free (v);
  }
  expect_call ("overlay: rename of a directory: cross-device, as overlayfs", "fs.rename",
               "{\"from\":\"sub\",\"to\":\"sub2\"}", "FileError", "renaming a directory", NULL,
               NULL);
  expect_call ("overlay: remove a host file", "fs.remove", "{\"path\":\"sub/s.txt\"}", "done", NULL,
               NULL, NULL);
  expect_call ("overlay: remove a host symlink", "fs.remove", "{\"path\":\"sub/in\"}", "done", NULL,
               NULL, NULL);
  expect_call ("overlay: remove the emptied host directory", "fs.remove", "{\"path\":\"sub\"}",
               "done", NULL, NULL, NULL);
  expect_call ("overlay: make it again", "fs.mkdir", "{\"path\":\"sub\"}", "done", NULL, NULL,
               NULL);
  report (!listed ("sub", "s.txt"),
          "overlay: a directory removed and made again hides the host's files in it",
          "s.txt still listed");
  expect_call ("overlay: protected paths too", "fs.open",
               "{\"path\":\".git/config\",\"mode\":\"append\"}", "PermissionDenied", "is protected",
               NULL, NULL);
  expect_call ("overlay: run.finish", "run.finish", "{\"status\":\"success\"}", "done", NULL, NULL,
               NULL);
}

static int
serve (enum broker_ws_mode mode, uint64_t budget, void (*vm) (void), struct broker_outcome *out)
{
  static struct policy pol = { .approve_default = -1 };
  struct broker_volume vols[] = {
    { .source = vol_dir, .target = "vol", .writable = true },
    { .source = vol_dir, .target = "deep/ro", .writable = false },
  };
  struct broker_workspace_spec spec
      = { .dir = ws_dir, .mode = mode, .volumes = vols, .n_volumes = 2, .overlay_bytes = budget };
  struct broker_options o = { 0 };
  struct broker_peer peer = { 0 };
  struct tr_error err;
  int sv[2], pidfd, status = 0, r;
  pid_t pid;

  if (broker_workspace_open (&spec, &o.workspace, &err) < 0)
    {
      report (false, "broker_workspace_open", "%s", err.msg);
      return -1;
    }
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return -1;
  fflush (stdout);
  pid = fork ();
  if (pid == 0)
    {
      close (sv[0]);
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      vm_fd = sv[1];
      vm ();
      fflush (stdout);
      _exit (failures ? 1 : 0);
    }
  close (sv[1]);
  pidfd = pidfd_open (pid, 0);
  test_broker_options (&o, "ws.tac", "ws", &pol);
  test_child_peer (&peer, sv[0], pid, &pidfd);
  r = broker_serve (&o, &peer, out, &err);
  waitpid (pid, &status, 0);
  broker_workspace_close (o.workspace);
  close (pidfd);
  close (sv[0]);
  if (WIFEXITED (status) && WEXITSTATUS (status))
    failures++;
  return r;
}

/* The resolver alone: openat2 and the walk agree.  */
static void
resolver (void)
{
  static const struct
  {
    const char *path;
    int flags;
    int want; /* 0 or an errno */
  } cases[] = {
    { "sub/s.txt", O_RDONLY, 0 },        { "sub", O_PATH | O_DIRECTORY, 0 },
    { "out/secret", O_RDONLY, ELOOP },   { "out", O_PATH | O_DIRECTORY, ELOOP },
    { "sub/in/s.txt", O_RDONLY, ELOOP }, { "link", O_RDONLY, ELOOP },
    { "missing/x", O_RDONLY, ENOENT },   { "sub/s.txt/x", O_RDONLY, ENOTDIR },
  };
  int rootfd = open (ws_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (int walk = 0; walk < 2; walk++)
      {
        int fd = broker_ws_open_beneath (rootfd, cases[i].path, cases[i].flags, walk);
        int e = fd < 0 ? errno : 0;
        report (e == cases[i].want,
                walk ? "resolver (component walk): the same answer as openat2"
                     : "resolver (openat2): RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS",
                "%s: got %s, want %s", cases[i].path, e ? strerror (e) : "success",
                cases[i].want ? strerror (cases[i].want) : "success");
        if (fd >= 0)
          close (fd);
      }
  close (rootfd);
}

int
main (void)
{
  struct broker_outcome out;
  int fds_before, r;

  setvbuf (stdout, NULL, _IOLBF, 0);
  signal (SIGALRM, on_alarm);
  alarm (60);
  if (mkdtemp (root) == NULL)
    return 1;
  chmod (root, 0755);
  snprintf (ws_dir, sizeof ws_dir, "%s/ws", root);
  snprintf (outside, sizeof outside, "%s/outside", root);
  snprintf (vol_dir, sizeof vol_dir, "%s/vol", root);
  mkdir (ws_dir, 0755);
  mkdir (outside, 0755);
  mkdir (vol_dir, 0755);
  put (outside, "secret", "host secret\n");
  put (vol_dir, "v.txt", "volume\n");
  put (ws_dir, "a.txt", "alpha\n");
  put (ws_dir, ".gitmodules", "[x]\n");
  mk (ws_dir, ".git");
  mk (ws_dir, "d");
  mk (ws_dir, "sub");
  put (ws_dir, "sub/s.txt", "s\n");
  lnk (ws_dir, "out", outside);
  lnk (ws_dir, "sub/in", ".");
  lnk (ws_dir, "link", "a.txt");
  put (ws_dir, "rootonly", "root\n");
  chmod (ws_dir, 0755);
  {
    char p[1200];
    snprintf (p, sizeof p, "%s/rootonly", ws_dir);
    chmod (p, 0600);
    /* The workspace belongs to 65534, as a user's directory would.  */
    if (geteuid () == 0)
      {
        char cmd[1400];
        snprintf (cmd, sizeof cmd, "chown -R 65534:65534 %s/ws && chown 0:0 %s/ws/rootonly", root,
                  root);
        if (system (cmd) != 0)
          report (false, "chown the workspace", "%s", cmd);
      }
  }

  resolver ();
  fds_before = count_fds ();
  r = serve (BROKER_WS_RW, 0, vm_rw, &out);
  report (r == 0 && out.violations == 3 && !out.killed_for_violations,
          "rw: the bogus handle, the bad mode and the VM's descriptor are the 3 violations",
          "serve %d, %d violations (the last: %s)", r, out.violations, out.violation);
  broker_outcome_free (&out);
  report (exists (ws_dir, "b.txt") && !exists (ws_dir, "a.txt") && exists (ws_dir, "d2")
              && exists (ws_dir, "p/q/r") && !exists (ws_dir, "p/.git")
              && !exists (ws_dir, "sub/.git") && !exists (ws_dir, ".GIT") && !exists (ws_dir, "gm")
              && !exists (ws_dir, "h0") && !exists (ws_dir, "run.tac.yml"),
          "rw: the host shows the allowed changes and none of the refused ones", "see above");
  {
    DIR *d = opendir (ws_dir);
    struct dirent *de;
    int tmp = 0;
    while (d && (de = readdir (d)))
      tmp += strstr (de->d_name, ".tmp-") != NULL;
    if (d)
      closedir (d);
    report (tmp == 0, "rw: aborted writes leave no temporary file", "%d left", tmp);
  }
  report (count_fds () == fds_before, "rw: the broker holds no descriptor after the run",
          "%d before, %d after", fds_before, count_fds ());

  r = serve (BROKER_WS_OVERLAY, 64 * 1024, vm_overlay, &out);
  report (r == 0 && out.violations == 0, "overlay: no violation", "serve %d, %d violations", r,
          out.violations);
  broker_outcome_free (&out);
  report (exists (ws_dir, "b.txt") && exists (ws_dir, "sub/s.txt") && !exists (ws_dir, "new.txt")
              && !exists (ws_dir, "moved.txt") && !exists (ws_dir, "sealed.txt"),
          "overlay: the host directory is untouched", "see above");
  report (count_fds () == fds_before, "overlay: the broker holds no descriptor after the run",
          "%d before, %d after", fds_before, count_fds ());

  {
    char cmd[700];
    snprintf (cmd, sizeof cmd, "rm -rf %s", root);
    if (system (cmd) != 0)
      fprintf (stderr, "could not remove %s\n", root);
  }
  return failures ? 1 : 0;
}
