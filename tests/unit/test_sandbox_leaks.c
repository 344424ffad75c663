/* The sandbox API leaves nothing behind in the launcher.
 *
 * A long-lived launcher (the broker, a service) starts many sandboxes from
 * one process, so one leaked fd, child or mount per run adds up.  This test
 * starts 200 sandboxes in-process with a tiny entry function and checks that
 * the launcher's fd table, children, mounts and cgroups are the same
 * afterwards; then that bad specs fail with a clear message and leave
 * nothing behind either.  */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "tests/unit/unit.h"

#define RUNS 200
#define ENTRY_EXIT_CODE 7

/* What one run could leak into the launcher.  */
struct footprint
{
  int fds;
  int mounts;
  int cgroups;
};

static int
count_fds (void)
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *de;
  int n = 0;

  if (d == NULL)
    return -1;
  while ((de = readdir (d)) != NULL)
    if (de->d_name[0] != '.')
      n++;
  closedir (d);
  return n - 1; /* the directory's own fd */
}

static int
count_lines (const char *path)
{
  FILE *f = fopen (path, "re");
  int n = 0, c;

  if (f == NULL)
    return -1;
  while ((c = fgetc (f)) != EOF)
    n += c == '\n';
  fclose (f);
  return n;
}

/* Run cgroups are named tactus-run-PID-*; only the cgroup2 mount is read.  */
static int
count_own_cgroups (void)
{
  DIR *d = opendir ("/sys/fs/cgroup/unified");
  struct dirent *de;
  char prefix[64];
  int n = 0;

  if (d == NULL)
    return 0;
  snprintf (prefix, sizeof prefix, "tactus-run-%d-", (int) getpid ());
  while ((de = readdir (d)) != NULL)
    n += strncmp (de->d_name, prefix, strlen (prefix)) == 0;
  closedir (d);
  return n;
}

static struct footprint
footprint (void)
{
  struct footprint f = { count_fds (), count_lines ("/proc/self/mountinfo"), count_own_cgroups () };
  return f;
}

/* No child of ours may be left, not even a zombie.  */
static bool
no_children (void)
{
  return waitpid (-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

static void
compare (const char *what, struct footprint before)
{
  struct footprint after = footprint ();
  char name[128];

  snprintf (name, sizeof name, "%s: no fd leaked", what);
  report (after.fds == before.fds, name, "%d fds before, %d after", before.fds, after.fds);
  snprintf (name, sizeof name, "%s: no child left", what);
  report (no_children (), name, "a child process (or zombie) is left");
  snprintf (name, sizeof name, "%s: no mount left", what);
  report (after.mounts == before.mounts, name, "%d mountinfo lines before, %d after", before.mounts,
          after.mounts);
  snprintf (name, sizeof name, "%s: no cgroup left", what);
  report (after.cgroups == before.cgroups, name, "%d run cgroups before, %d after", before.cgroups,
          after.cgroups);
}

static int
entry_exit (void *arg, const struct sandbox_inside *inside)
{
  (void) arg;
  (void) inside;
  return ENTRY_EXIT_CODE;
}

/* One full start/wait/destroy cycle; the exit code, or -1 with ERR set.  */
static int
run_once (const char *workspace, struct tr_error *err)
{
  struct sandbox_spec spec;
  struct sandbox_result res;
  struct sandbox *sb;
  int rc;

  sandbox_spec_init (&spec);
  spec.entry = entry_exit;
  spec.keep_stdout = false;
  if (workspace)
    spec.workspace_dir = workspace;
  else
    spec.workspace = SANDBOX_WORKSPACE_OFF;
  tr_error_clear (err);
  if (sandbox_start (&spec, &sb, err) < 0)
    return -1;
  rc = sandbox_wait (sb, &res, err);
  sandbox_destroy (sb);
  return rc < 0 ? -1 : res.exit_code;
}

static void
test_many_runs (const char *workspace)
{
  struct footprint before = footprint ();
  struct tr_error err;
  int bad = 0, first_bad = 0;
  char first_msg[sizeof err.msg] = "";

  /* Alternate between no workspace and a bound one: both paths of the
   * mount setup must clean up.  */
  for (int i = 0; i < RUNS; i++)
    {
      int code = run_once (i % 2 ? workspace : NULL, &err);

      if (code != ENTRY_EXIT_CODE && bad++ == 0)
        {
          first_bad = code;
          snprintf (first_msg, sizeof first_msg, "%s", code < 0 ? err.msg : "");
        }
    }
  report (bad == 0, "200 in-process runs: every entry returned its exit code",
          "%d of %d runs failed; first: exit %d %s", bad, RUNS, first_bad, first_msg);
  compare ("200 in-process runs", before);
}

/* A bad spec must fail before anything is made, with a message that says
 * what is wrong.  */
static void
expect_bad_spec (const char *what, const struct sandbox_spec *spec, const char *want_in_msg)
{
  struct footprint before = footprint ();
  struct sandbox *sb = NULL;
  struct tr_error err;
  char name[160];
  int rc;

  tr_error_clear (&err);
  rc = sandbox_start (spec, &sb, &err);
  snprintf (name, sizeof name, "bad spec (%s): refused with a clear message", what);
  report (rc < 0 && sb == NULL && strstr (err.msg, want_in_msg) != NULL, name,
          "rc %d, message '%s' (want it to mention '%s')", rc, err.msg, want_in_msg);
  if (rc == 0 && sb != NULL)
    sandbox_destroy (sb);
  snprintf (name, sizeof name, "bad spec (%s)", what);
  compare (name, before);
}

static void
test_bad_specs (const char *scratch)
{
  static char *const argv[] = { "/bin/true", NULL };
  static const struct sandbox_bind relative
      = { .source = "/usr", .target = "usr", .writable = false };
  struct sandbox_spec spec;
  char missing[512], file[512];
  FILE *f;

  sandbox_spec_init (&spec);
  spec.workspace = SANDBOX_WORKSPACE_OFF;
  expect_bad_spec ("no entry and no argv", &spec, "exactly one");

  spec.entry = entry_exit;
  spec.argv = argv;
  expect_bad_spec ("both an entry and argv", &spec, "exactly one");

  sandbox_spec_init (&spec);
  spec.entry = entry_exit;
  snprintf (missing, sizeof missing, "%s/does-not-exist", scratch);
  spec.workspace_dir = missing;
  expect_bad_spec ("workspace that does not exist", &spec, missing);

  snprintf (file, sizeof file, "%s/a-file", scratch);
  f = fopen (file, "we");
  if (f)
    fclose (f);
  spec.workspace_dir = file;
  expect_bad_spec ("workspace that is a file", &spec, file);

  sandbox_spec_init (&spec);
  spec.entry = entry_exit;
  spec.workspace = SANDBOX_WORKSPACE_OFF;
  spec.binds = &relative;
  spec.n_binds = 1;
  expect_bad_spec ("bind with a relative target", &spec, "absolute target");
  unlink (file);
}

int
main (void)
{
  char scratch[] = "/tmp/tactus-unit.XXXXXX";

  setvbuf (stdout, NULL, _IOLBF, 0);
  if (mkdtemp (scratch) == NULL)
    {
      printf ("FAIL: sandbox leaks: mkdtemp: %s\n", strerror (errno));
      return 1;
    }
  test_many_runs (scratch);
  test_bad_specs (scratch);
  rmdir (scratch);
  return failures ? 1 : 0;
}
