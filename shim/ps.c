/* ps [--format table|json] ID [[--] ps options]: the host pids in the
 * container's cgroup.  json is what containerd's shim reads (a JSON array
 * of pids; ps options are ignored, as runc); the table shows PID and
 * command line, or, given ps options, runc's table: ps(1)'s header and
 * the lines whose PID column is one of the container's.  Command lines
 * come from the container: control bytes are shown as '?'.  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim/runc.h"

static int
cmp_pid (const void *a, const void *b)
{
  pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
  return (x > y) - (x < y);
}

static void
put_sanitized (const char *s, size_t n)
{
  for (size_t k = 0; k < n; k++)
    {
      unsigned char c = (unsigned char) s[k];
      putchar (c < 0x20 || c == 0x7f ? '?' : c);
    }
  putchar ('\n');
}

/* The Nth whitespace-separated field of LINE (LEN bytes) as a pid, or -1.  */
static long
field_pid (const char *line, size_t len, int n)
{
  size_t k = 0;

  for (int f = 0;; f++)
    {
      char buf[24];
      size_t b = 0;
      while (k < len && (line[k] == ' ' || line[k] == '\t'))
        k++;
      if (k == len)
        return -1;
      while (k < len && line[k] != ' ' && line[k] != '\t')
        {
          if (b < sizeof buf - 1)
            buf[b++] = line[k];
          k++;
        }
      buf[b] = '\0';
      if (f == n)
        {
          char *end;
          long v = strtol (buf, &end, 10);
          return *end || b == 0 ? -1 : v;
        }
    }
}

/* runc's table: ps(1) (from the host's PATH, as runc) with ARGS, its
 * header, then the lines of the container's PIDS.  */
static int
ps_with_args (char **args, int nargs, const pid_t *pids, size_t n, struct tr_error *err)
{
  extern char **environ;
  char **av = calloc ((size_t) nargs + 2, sizeof *av);
  int fds[2] = { -1, -1 }, status = 0, pidcol = -1;
  posix_spawn_file_actions_t fa;
  char *out = NULL, *line, *nl;
  size_t len = 0, cap = 0;
  pid_t child;
  int r;

  if (av == NULL || pipe2 (fds, O_CLOEXEC) < 0)
    {
      free (av);
      return tr_fail (err, errno, "ps: pipe");
    }
  av[0] = (char *) "ps";
  for (int k = 0; k < nargs; k++)
    av[k + 1] = args[k];
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_adddup2 (&fa, fds[1], STDOUT_FILENO);
  r = posix_spawnp (&child, "ps", &fa, NULL, av, environ);
  posix_spawn_file_actions_destroy (&fa);
  free (av);
  close (fds[1]);
  if (r != 0)
    {
      close (fds[0]);
      return tr_fail (err, r, "ps: run ps(1)");
    }
  for (;;)
    {
      ssize_t got;
      if (len + 4096 > cap)
        {
          char *p;
          if (cap >= (64u << 20) || (p = realloc (out, cap ? cap * 2 : 65536)) == NULL)
            break;
          out = p;
          cap = cap ? cap * 2 : 65536;
        }
      got = read (fds[0], out + len, cap - len - 1);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        break;
      len += (size_t) got;
    }
  close (fds[0]);
  while (waitpid (child, &status, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0 || out == NULL)
    {
      free (out);
      return tr_fail (err, 0, "ps: ps(1) failed (exit status %d)",
                      WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
    }
  out[len] = '\0';
  line = out;
  nl = strchr (line, '\n');
  {
    /* The header: which column is PID.  */
    size_t hl = nl ? (size_t) (nl - line) : strlen (line);
    size_t k = 0;
    for (int f = 0; k < hl; f++)
      {
        size_t st;
        while (k < hl && (line[k] == ' ' || line[k] == '\t'))
          k++;
        st = k;
        while (k < hl && line[k] != ' ' && line[k] != '\t')
          k++;
        if (k > st && k - st == 3 && strncmp (line + st, "PID", 3) == 0)
          {
            pidcol = f;
            break;
          }
      }
    if (pidcol < 0)
      {
        free (out);
        return tr_fail (err, 0, "ps: couldn't find PID field in ps output");
      }
    put_sanitized (line, hl);
  }
  while (nl && *(line = nl + 1))
    {
      size_t ll;
      long p;
      nl = strchr (line, '\n');
      ll = nl ? (size_t) (nl - line) : strlen (line);
      p = field_pid (line, ll, pidcol);
      for (size_t k = 0; k < n && p > 0; k++)
        if (pids[k] == (pid_t) p)
          {
            put_sanitized (line, ll);
            break;
          }
    }
  free (out);
  return 0;
}

int
runc_cmd_ps (int argc, char **argv)
{
  struct tr_error err;
  const char *format = "table";
  const struct optdef defs[] = {
    { "format", 'f', OPT_STR, &format },
    { NULL, 0, 0, NULL },
  };
  struct ct_state st;
  struct ct_cgroup cg;
  pid_t *pids = NULL;
  size_t n = 0;
  int i;

  tr_error_clear (&err);
  i = opts_parse ("ps", argc, argv, defs, &err);
  if (i < 0)
    return log_fail (&err);
  if (argc - i < 1)
    {
      tr_fail (&err, 0, "ps: a container id is needed");
      return log_fail (&err);
    }
  if (strcmp (format, "json") != 0 && strcmp (format, "table") != 0)
    {
      tr_fail (&err, 0, "ps: invalid format option: %s (table or json)", format);
      return log_fail (&err);
    }
  if (state_load (argv[i], &st, &err) < 0)
    return log_fail (&err);
  if (cgpath_open (st.cgroup, &cg, &err) < 0)
    return log_fail (&err);
  if (cg.dirfd >= 0)
    {
      if (cgpath_pids (&cg, &pids, &n, &err) < 0)
        {
          close (cg.dirfd);
          return log_fail (&err);
        }
      close (cg.dirfd);
    }
  else if (st.status != ST_STOPPED)
    {
      /* No cgroup (rootless): the init is all we know of.  */
      pids = malloc (sizeof *pids);
      if (pids)
        {
          pids[0] = st.pid;
          n = 1;
        }
    }
  if (n > 1)
    qsort (pids, n, sizeof *pids, cmp_pid);
  /* ps options follow the id, after an optional "--".  */
  {
    int a = i + 1;
    if (a < argc && strcmp (argv[a], "--") == 0)
      a++;
    if (strcmp (format, "table") == 0 && a < argc)
      {
        int r = ps_with_args (argv + a, argc - a, pids, n, &err);
        free (pids);
        return r < 0 ? log_fail (&err) : 0;
      }
  }
  if (strcmp (format, "json") == 0)
    {
      printf ("[");
      for (size_t k = 0; k < n; k++)
        printf ("%s%d", k ? "," : "", (int) pids[k]);
      printf ("]\n");
    }
  else
    {
      printf ("%-8s %s\n", "PID", "CMD");
      for (size_t k = 0; k < n; k++)
        {
          char path[64], cmd[512];
          struct tr_error e;
          int len;
          snprintf (path, sizeof path, "/proc/%d/cmdline", (int) pids[k]);
          len = read_file_at (AT_FDCWD, path, cmd, sizeof cmd, &e);
          for (int c = 0; c < len - 1; c++)
            if (cmd[c] == '\0')
              cmd[c] = ' ';
          printf ("%-8d ", (int) pids[k]);
          if (len > 0)
            put_sanitized (cmd, strlen (cmd));
          else
            puts ("?");
        }
    }
  free (pids);
  return 0;
}
