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
 * Its options are the CLIENT entries of cli/options.def (tactus-run-client
 * --help).  */
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

#include "cli/options.h"
#include "common/fdpass.h"
#include "common/frame.h"
#include "common/suggest.h"
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

/* Every return of main frees them (the option errors return early).  */
static void
buf_free (struct buf *b)
{
  free (b->p);
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
  cli_usage_lines (CLI_C_CLIENT, stderr);
  fputs ("(see tactus-run-client --help)\n", stderr);
  return 1;
}

/* "tactus-run-client: WHAT 'ARG'WHY" and where help is; 1.  */
static int
bad_option (const char *what, const char *arg, const char *why)
{
  fprintf (stderr, "tactus-run-client: %s '%s'%s\n(see tactus-run-client --help)\n", what, arg,
           why);
  return 1;
}

/* An option the client does not take: the closest it does, or, for one
 * of `tactus-run run`'s, that the pool does not take it.  */
static int
unknown_option (const char *name)
{
  const char *names[32], *guess;
  size_t n = 0;

  if (cli_option_find (CLI_C_RUN, name, strlen (name)))
    {
      fprintf (stderr,
               "tactus-run-client: --%s is an option of tactus-run run that the pool does not "
               "take (run the procedure with tactus-run run)\n",
               name);
      return 1;
    }
  for (size_t i = 0; i < cli_n_options && n < sizeof names / sizeof names[0]; i++)
    if (cli_options[i].cmd == CLI_C_CLIENT)
      names[n++] = cli_opt_name (cli_options[i].id);
  guess = tr_suggest (name, names, n);
  fprintf (stderr, "tactus-run-client: unknown option '--%s'", name);
  if (guess)
    fprintf (stderr, " (did you mean --%s?)", guess);
  fputs ("\n(see tactus-run-client --help)\n", stderr);
  return 1;
}

int
main (int argc, char **argv)
{
  const char *sock_path = NULL, *file = NULL;
  struct buf req __attribute__ ((cleanup (buf_free))) = { 0 };
  struct buf params __attribute__ ((cleanup (buf_free))) = { 0 };
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct frame_asm a = { 0 };
  struct tr_error err;
  char default_sock[PATH_MAX], *source, *dircopy;
  const char *color = NULL;
  size_t len;
  int fds[4], sock, code = 1;

  puts_lit (&req, "{");
  puts_lit (&params, "{");
  /* The options are the table's (cli/options.def, CLIENT): what the
   * pool's request carries (cli/cmd_serve.c reads the same keys).  */
  for (int i = 1; i < argc; i++)
    {
      const char *arg = argv[i], *value = NULL, *eq;
      const struct cli_option *o;
      char name[64];

      if (arg[0] != '-' || arg[1] == '\0')
        {
          if (file != NULL)
            return bad_option ("unexpected argument", arg, " (one .tac file per run)");
          file = arg;
          continue;
        }
      if (arg[1] != '-')
        {
          o = arg[2] == '\0' ? cli_option_short (CLI_C_CLIENT, arg[1]) : NULL;
          if (o == NULL)
            return bad_option ("unknown option", arg, "");
        }
      else
        {
          eq = strchr (arg + 2, '=');
          snprintf (name, sizeof name, "%.*s", eq ? (int) (eq - arg - 2) : (int) strlen (arg + 2),
                    arg + 2);
          o = cli_option_find (CLI_C_CLIENT, name, strlen (name));
          if (o == NULL)
            return unknown_option (name);
          if (eq && o->value == NULL)
            return bad_option ("option", arg, " takes no value");
          value = eq ? eq + 1 : NULL;
        }
      if (o->value && value == NULL)
        {
          if (i + 1 >= argc)
            return bad_option ("option", arg, " needs a value");
          value = argv[++i];
        }
      switch (o->id)
        {
        case CLI_O_HELP:
          cli_usage (CLI_C_CLIENT, stdout);
          return 0;
        case CLI_O_SOCKET:
          sock_path = value;
          break;
        case CLI_O_PARAM:
          {
            const char *veq = strchr (value, '=');
            if (veq == NULL || veq == value)
              return bad_option ("--param", value, ": expected KEY=VALUE");
            if (params.len > 1)
              puts_lit (&params, ",");
            put_json_string (&params, value, (size_t) (veq - value));
            puts_lit (&params, ":");
            put_json_string (&params, veq + 1, strlen (veq + 1));
            break;
          }
        case CLI_O_JSON:
          puts_lit (&req, "\"json\":true,");
          break;
        case CLI_O_NO_JIT:
          puts_lit (&req, "\"no_jit\":true,");
          break;
        case CLI_O_MEMORY:
        case CLI_O_WORKSPACE_MODE:
          /* Checked by the pool, as tactus-run run checks them.  */
          puts_lit (&req, o->id == CLI_O_MEMORY ? "\"memory\":" : "\"workspace_mode\":");
          put_json_string (&req, value, strlen (value));
          puts_lit (&req, ",");
          break;
        case CLI_O_MOCK_ALL:
          puts_lit (&req, "\"mock_all\":true,");
          break;
        case CLI_O_VERBOSE:
          puts_lit (&req, "\"verbose\":true,");
          break;
        case CLI_O_APPROVE:
          if (strcmp (value, "all") != 0 && strcmp (value, "none") != 0)
            return bad_option ("--approve", value, ": expected all or none");
          puts_lit (&req, "\"approve\":");
          put_json_string (&req, value, strlen (value));
          puts_lit (&req, ",");
          break;
        case CLI_O_COLOR:
          /* The pool colours the client's stderr (it gets the fd): only
           * the choice travels.  */
          if (strcmp (value, "auto") != 0 && strcmp (value, "always") != 0
              && strcmp (value, "never") != 0)
            return bad_option ("--color", value, ": expected auto, always or never");
          color = value;
          break;
        case CLI_O_TIMEOUT:
          {
            char t[64], *end;
            double v = strtod (value, &end);
            if (end == value || (*end != '\0' && strcmp (end, "s") != 0) || !(v > 0 && v < 1e9))
              return bad_option ("--timeout", value, ": expected a positive number of seconds");
            snprintf (t, sizeof t, "\"timeout\":%g,", v);
            puts_lit (&req, t);
            break;
          }
        default:
          return unknown_option (cli_opt_name (o->id));
        }
    }
  if (file == NULL)
    return usage ();
  /* NO_COLOR and TERM=dumb are the client's environment, not the pool's.  */
  if (color == NULL
      && ((getenv ("NO_COLOR") && getenv ("NO_COLOR")[0])
          || (getenv ("TERM") && strcmp (getenv ("TERM"), "dumb") == 0)))
    color = "never";
  if (color)
    {
      puts_lit (&req, "\"color\":");
      put_json_string (&req, color, strlen (color));
      puts_lit (&req, ",");
    }
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
  free (source);
  free (dircopy);
  close (sock);
  return code;
}
