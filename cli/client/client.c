/* tactus-run-client: run a procedure in a warm pool (tactus-run serve).
 *
 * A small program on purpose: it links only libc and the framing code, so
 * starting it costs a fraction of starting tactus-run.  It reads the
 * procedure, connects to the pool's socket, passes its current directory
 * (the workspace), the procedure's directory (for local modules), and its
 * stdout and stderr (where the run's trace and result go), sends the
 * request and exits with the run's status.  Closing the connection (Ctrl-C)
 * stops the run.
 *
 * usage: tactus-run-client [--socket PATH] FILE.tac [--param K=V]... [--json]
 *        [--mock-all] [--approve all|none] [--timeout SECONDS] [-v]  */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fdpass.h"
#include "common/frame.h"
#include "common/userdir.h"

#define MAX_SOURCE (4 << 20)

struct buf
{
  char *p;
  size_t len, cap;
};

static void
put (struct buf *b, const char *s, size_t n)
{
  if (b->len + n + 1 > b->cap)
    {
      size_t cap = b->cap ? b->cap * 2 : 4096;
      while (cap < b->len + n + 1)
        cap *= 2;
      b->p = realloc (b->p, cap);
      if (b->p == NULL)
        {
          fputs ("tactus-run-client: out of memory\n", stderr);
          exit (1);
        }
      b->cap = cap;
    }
  memcpy (b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void
puts_lit (struct buf *b, const char *s)
{
  put (b, s, strlen (s));
}

static void
put_json_string (struct buf *b, const char *s, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  put (b, "\"", 1);
  for (size_t i = 0; i < n; i++)
    {
      unsigned char c = (unsigned char) s[i];
      char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
      if (c == '"' || c == '\\')
        {
          char q[2] = { '\\', (char) c };
          put (b, q, 2);
        }
      else if (c < 0x20)
        put (b, e, 6);
      else
        put (b, (const char *) &s[i], 1);
    }
  put (b, "\"", 1);
}

static char *
read_file (const char *path, size_t *len)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  char *p;
  ssize_t n;

  if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size > MAX_SOURCE)
    {
      fprintf (stderr, "tactus-run-client: %s: %s\n", path,
               fd < 0 ? strerror (errno) : "not a regular file under 4 MiB");
      exit (1);
    }
  p = malloc ((size_t) st.st_size + 1);
  n = p ? read (fd, p, (size_t) st.st_size) : -1;
  close (fd);
  if (n < 0 || memchr (p, '\0', (size_t) n))
    {
      fprintf (stderr, "tactus-run-client: %s: cannot read it as text\n", path);
      exit (1);
    }
  p[n] = '\0';
  *len = (size_t) n;
  return p;
}

static int
usage (void)
{
  fputs ("usage: tactus-run-client [--socket PATH] FILE.tac [--param K=V]... [--json] "
         "[--mock-all] [--approve all|none] [--timeout SECONDS] [-v]\n",
         stderr);
  return 1;
}

int
main (int argc, char **argv)
{
  const char *sock_path = NULL, *file = NULL;
  struct buf req = { 0 }, params = { 0 };
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct frame_asm a = { 0 };
  struct tr_error err;
  char default_sock[PATH_MAX], *source, *dircopy;
  size_t len;
  int fds[4], sock, code = 1;

  puts_lit (&req, "{");
  puts_lit (&params, "{");
  for (int i = 1; i < argc; i++)
    {
      const char *arg = argv[i];
      if (strcmp (arg, "--socket") == 0 && i + 1 < argc)
        sock_path = argv[++i];
      else if (strcmp (arg, "--param") == 0 && i + 1 < argc)
        {
          const char *kv = argv[++i], *eq = strchr (kv, '=');
          if (eq == NULL || eq == kv)
            return usage ();
          if (params.len > 1)
            puts_lit (&params, ",");
          put_json_string (&params, kv, (size_t) (eq - kv));
          puts_lit (&params, ":");
          put_json_string (&params, eq + 1, strlen (eq + 1));
        }
      else if (strcmp (arg, "--json") == 0)
        puts_lit (&req, "\"json\":true,");
      else if (strcmp (arg, "--mock-all") == 0)
        puts_lit (&req, "\"mock_all\":true,");
      else if (strcmp (arg, "-v") == 0 || strcmp (arg, "--verbose") == 0)
        puts_lit (&req, "\"verbose\":true,");
      else if (strcmp (arg, "--approve") == 0 && i + 1 < argc
               && (strcmp (argv[i + 1], "all") == 0 || strcmp (argv[i + 1], "none") == 0))
        {
          puts_lit (&req, "\"approve\":");
          put_json_string (&req, argv[i + 1], strlen (argv[i + 1]));
          puts_lit (&req, ",");
          i++;
        }
      else if (strcmp (arg, "--timeout") == 0 && i + 1 < argc && atof (argv[i + 1]) > 0)
        {
          char t[64];
          snprintf (t, sizeof t, "\"timeout\":%g,", atof (argv[++i]));
          puts_lit (&req, t);
        }
      else if (arg[0] != '-' && file == NULL)
        file = arg;
      else
        return usage ();
    }
  if (file == NULL)
    return usage ();
  /* The default socket's directory must be ours and private: another
   * user who made it first gets no connection (common/userdir.h).  */
  if (sock_path == NULL)
    {
      if (userdir_pool_socket (default_sock, sizeof default_sock, false, &err) < 0)
        {
          fprintf (stderr, "tactus-run-client: %s\n", err.msg);
          return 1;
        }
      sock_path = default_sock;
    }
  puts_lit (&params, "}");
  source = read_file (file, &len);
  puts_lit (&req, "\"file\":");
  put_json_string (&req, file, strlen (file));
  puts_lit (&req, ",\"params\":");
  put (&req, params.p, params.len);
  puts_lit (&req, ",\"source\":");
  put_json_string (&req, source, len);
  puts_lit (&req, "}");

  dircopy = strdup (file);
  fds[0] = open (".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  fds[1] = open (dirname (dircopy), O_PATH | O_DIRECTORY | O_CLOEXEC);
  fds[2] = 1;
  fds[3] = 2;
  if (fds[0] < 0 || fds[1] < 0 || strlen (sock_path) >= sizeof addr.sun_path)
    {
      fprintf (stderr, "tactus-run-client: cannot open the current or the procedure's directory\n");
      return 1;
    }
  strcpy (addr.sun_path, sock_path);
  sock = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (sock < 0 || connect (sock, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      fprintf (stderr, "tactus-run-client: no pool at %s: %s (start one with: tactus-run serve)\n",
               sock_path, strerror (errno));
      return 1;
    }
  /* Before a byte or a descriptor leaves: the pool is ours (or root's).  */
  if (userdir_check_server (sock, sock_path, &err) < 0)
    {
      fprintf (stderr, "tactus-run-client: %s\n", err.msg);
      return 1;
    }
  if (fd_send (sock, "H", 1, fds, 4) < 0 || frame_send (sock, req.p, req.len, &err) < 0)
    {
      fprintf (stderr, "tactus-run-client: cannot send the request to %s\n", sock_path);
      return 1;
    }
  if (frame_recv (sock, &a, &err) > 0)
    {
      const char *c = strstr (a.buf, "\"exit_code\":");
      if (c)
        code = atoi (c + 12);
    }
  else
    fprintf (stderr, "tactus-run-client: the pool closed the connection without a result\n");
  frame_asm_free (&a);
  free (req.p);
  free (params.p);
  free (source);
  free (dircopy);
  close (sock);
  return code;
}
