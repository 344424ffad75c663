/* The egress proxy (broker/egress.h): a process of its own, and one child
 * of it per connection.
 *
 * Why safe: everything a cage sends here is data.  The proxy decides from
 * the launcher's rules only, never from the request beyond its target;
 * the target is checked before and after resolving, and the socket it
 * opens goes to an address that passed the checks (no second lookup a
 * changed DNS answer could redirect).  It runs as the launcher's user on
 * the host: the parsers are small, bounded and fuzzed, and each connection
 * is a separate process that ends with it.  A launcher that dies takes
 * the proxy with it (PR_SET_PDEATHSIG), and the proxy its connections.  */
#define _GNU_SOURCE
#include "broker/egress.h"

#include <arpa/inet.h>
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/trace.h"
#include "common/fdpass.h"
#include "policy/egress.h"

#define MAX_LISTENERS 32
#define MAX_CONNECTIONS 64
#define HEAD_TIMEOUT_MS 30000
#define CONNECT_TIMEOUT_MS 10000
#define IDLE_TIMEOUT_MS (10 * 60 * 1000)
#define RELAY_BUF (64 << 10)
#define CTL_FD 3
#define EVENT_FD 4

const char *const egress_env[] = {
  "HTTP_PROXY=http://127.0.0.1:3128",
  "HTTPS_PROXY=http://127.0.0.1:3128",
  "http_proxy=http://127.0.0.1:3128",
  "https_proxy=http://127.0.0.1:3128",
  "ALL_PROXY=socks5h://127.0.0.1:3128",
  "all_proxy=socks5h://127.0.0.1:3128",
  "NO_PROXY=localhost,127.0.0.1,::1",
  "no_proxy=localhost,127.0.0.1,::1",
  NULL,
};

struct egress
{
  pid_t pid;
  int ctl;    /* SOCK_SEQPACKET to the proxy: listeners go over it */
  int events; /* the read end of its event pipe */
  char buf[8192];
  size_t len;
};

/* ---- the decision ------------------------------------------------------------------------ */

cJSON *
egress_event (const char *label, const char *protocol, const char *host, uint16_t port,
              bool allowed, const char *addr, const char *why)
{
  cJSON *ev = cJSON_CreateObject ();

  cJSON_AddStringToObject (ev, "event_type", "egress");
  cJSON_AddStringToObject (ev, "decision", allowed ? "allowed" : "refused");
  cJSON_AddStringToObject (ev, "cage", label ? label : "");
  cJSON_AddStringToObject (ev, "protocol", protocol);
  cJSON_AddStringToObject (ev, "host", host ? host : "");
  cJSON_AddNumberToObject (ev, "port", port);
  if (addr && addr[0])
    cJSON_AddStringToObject (ev, "address", addr);
  if (why && why[0])
    cJSON_AddStringToObject (ev, "reason", why);
  return ev;
}

static void
addr_text (const struct sockaddr *sa, char *out, size_t size)
{
  const void *a = sa->sa_family == AF_INET
                      ? (const void *) &((const struct sockaddr_in *) sa)->sin_addr
                      : (const void *) &((const struct sockaddr_in6 *) sa)->sin6_addr;
  if (inet_ntop (sa->sa_family, a, out, (socklen_t) size) == NULL)
    snprintf (out, size, "?");
}

/* The checked addresses of HOST, in order; -1 (WHY, *REFUSED) when none
 * passes.  Resolved once, here, on the host.  */
static int
checked_addresses (const struct egress_rules *rules, const char *host, uint16_t port,
                   struct addrinfo **out, bool *refused, char *why, size_t whysize)
{
  struct addrinfo hints
      = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV },
      *res = NULL, **keep, *ai, *next;
  char service[8], first[300] = "";
  int rc;

  *refused = false;
  if (egress_check_target (rules, host, port, why, whysize) < 0)
    {
      *refused = true;
      return -1;
    }
  snprintf (service, sizeof service, "%u", port);
  rc = getaddrinfo (host, service, &hints, &res);
  if (rc != 0)
    {
      snprintf (why, whysize, "cannot resolve %s: %s", host, gai_strerror (rc));
      return -1;
    }
  /* Keep only the addresses that pass, in the resolver's order.  */
  keep = out;
  *out = NULL;
  for (ai = res; ai; ai = next)
    {
      char w[300];
      next = ai->ai_next;
      ai->ai_next = NULL;
      if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
          && egress_check_address (rules, ai->ai_addr, port, w, sizeof w) == 0)
        {
          *keep = ai;
          keep = &ai->ai_next;
        }
      else
        {
          if (!first[0])
            snprintf (first, sizeof first, "%s", w);
          freeaddrinfo (ai);
        }
    }
  if (*out == NULL)
    {
      *refused = true;
      snprintf (why, whysize, "%s:%u resolves to no allowed address: %s", host, port,
                first[0] ? first : "no address");
      return -1;
    }
  return 0;
}

static int
connect_timeout (const struct addrinfo *ai, char *why, size_t whysize)
{
  int fd = socket (ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), err = 0;
  socklen_t len = sizeof err;
  struct pollfd p;
  char a[INET6_ADDRSTRLEN];

  addr_text (ai->ai_addr, a, sizeof a);
  if (fd < 0)
    {
      snprintf (why, whysize, "socket: %s", strerror (errno));
      return -1;
    }
  if (connect (fd, ai->ai_addr, ai->ai_addrlen) < 0)
    {
      if (errno != EINPROGRESS)
        err = errno;
      else
        {
          p = (struct pollfd){ .fd = fd, .events = POLLOUT };
          if (poll (&p, 1, CONNECT_TIMEOUT_MS) != 1)
            err = ETIMEDOUT;
          else if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        }
    }
  if (err)
    {
      snprintf (why, whysize, "cannot connect to %s: %s", a, strerror (err));
      close (fd);
      return -1;
    }
  return fd;
}

int
egress_connect (const struct egress_rules *rules, const char *host, uint16_t port, char *addr,
                size_t addrsize, bool *refused, char *why, size_t whysize)
{
  struct addrinfo *list, *ai;
  int fd = -1;

  addr[0] = '\0';
  if (checked_addresses (rules, host, port, &list, refused, why, whysize) < 0)
    return -1;
  for (ai = list; ai && fd < 0; ai = ai->ai_next)
    {
      /* The socket goes to this address, which passed the checks: the
       * name is never looked up again.  */
      fd = connect_timeout (ai, why, whysize);
      addr_text (ai->ai_addr, addr, addrsize);
    }
  freeaddrinfo (list);
  return fd;
}

int
egress_resolve (const struct egress_rules *rules, const char *host, uint16_t port, char *addr,
                size_t addrsize, bool *refused, char *why, size_t whysize)
{
  struct addrinfo *list;

  addr[0] = '\0';
  if (checked_addresses (rules, host, port, &list, refused, why, whysize) < 0)
    return -1;
  addr_text (list->ai_addr, addr, addrsize);
  freeaddrinfo (list);
  return 0;
}

/* ---- one connection (a child of the proxy) ----------------------------------------------- */

static const struct egress_rules *rules_g;

static void
emit (const char *label, const char *protocol, const struct egress_request *r, bool allowed,
      const char *addr, const char *why)
{
  cJSON *ev = egress_event (label, protocol, r->host, r->port, allowed, addr, why);
  char *text = cJSON_PrintUnformatted (ev);
  cJSON_Delete (ev);
  if (text)
    {
      size_t n = strlen (text);
      /* One write under PIPE_BUF: lines from many connections never mix.  */
      if (n < PIPE_BUF - 1)
        {
          text[n] = '\n';
          if (write (EVENT_FD, text, n + 1) < 0)
            (void) 0;
        }
      cJSON_free (text);
    }
}

static void
send_all (int fd, const void *data, size_t n)
{
  const char *p = data;
  while (n > 0)
    {
      ssize_t w = send (fd, p, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return;
      p += w;
      n -= (size_t) w;
    }
}

static void
http_refuse (int fd, int status, const char *what, const char *why)
{
  char body[700], head[300];
  int n = snprintf (body, sizeof body, "tactus-run egress proxy: %s: %s\n", what, why);
  int h = snprintf (head, sizeof head,
                    "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                    "X-Tactus-Egress: %s\r\nContent-Length: %d\r\n\r\n",
                    status,
                    status == 403   ? "Forbidden"
                    : status == 400 ? "Bad Request"
                                    : "Bad Gateway",
                    status == 403 ? "refused" : "failed", n);
  send_all (fd, head, (size_t) h);
  send_all (fd, body, (size_t) n);
}

/* Read at least once more into BUF within the head deadline; false on EOF,
 * error or timeout.  */
static bool
read_more (int fd, char *buf, size_t *len, size_t cap, int64_t deadline)
{
  struct timespec ts;
  struct pollfd p = { .fd = fd, .events = POLLIN };
  ssize_t n;
  int64_t now;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  now = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  if (*len >= cap || now >= deadline || poll (&p, 1, (int) (deadline - now)) != 1)
    return false;
  n = recv (fd, buf + *len, cap - *len, 0);
  if (n <= 0)
    return false;
  *len += (size_t) n;
  return true;
}

struct pipe_dir
{
  char *buf;
  size_t off, len;
  bool eof;  /* the source ended */
  bool shut; /* the sink was told */
};

/* Copy both ways until both directions end, an error, or an idle timeout.  */
static void
relay (int a, int b, const char *to_b, size_t to_b_len)
{
  struct pipe_dir ab = { .buf = malloc (RELAY_BUF) }, ba = { .buf = malloc (RELAY_BUF) };

  if (!ab.buf || !ba.buf)
    goto out;
  if (to_b_len > RELAY_BUF)
    to_b_len = RELAY_BUF;
  memcpy (ab.buf, to_b, to_b_len);
  ab.len = to_b_len;
  fcntl (a, F_SETFL, fcntl (a, F_GETFL) | O_NONBLOCK);
  fcntl (b, F_SETFL, fcntl (b, F_GETFL) | O_NONBLOCK);
  for (;;)
    {
      struct pollfd p[2] = { { .fd = a }, { .fd = b } };
      struct pipe_dir *dirs[2] = { &ab, &ba };
      int fds[2][2] = { { a, b }, { b, a } }; /* source, sink */
      if (!ab.eof && ab.len == 0)
        p[0].events |= POLLIN;
      if (ab.len > ab.off)
        p[1].events |= POLLOUT;
      if (!ba.eof && ba.len == 0)
        p[1].events |= POLLIN;
      if (ba.len > ba.off)
        p[0].events |= POLLOUT;
      if ((ab.eof && ab.len == 0 && ba.eof && ba.len == 0))
        break;
      if (p[0].events == 0 && p[1].events == 0)
        break;
      int n = poll (p, 2, IDLE_TIMEOUT_MS);
      if (n == 0 || (n < 0 && errno != EINTR))
        break;
      for (int d = 0; d < 2; d++)
        {
          struct pipe_dir *x = dirs[d];
          int src = fds[d][0], dst = fds[d][1];
          short src_ev = p[src == a ? 0 : 1].revents, dst_ev = p[dst == a ? 0 : 1].revents;
          if (!x->eof && x->len == 0 && (src_ev & (POLLIN | POLLHUP | POLLERR)))
            {
              ssize_t r = recv (src, x->buf, RELAY_BUF, 0);
              if (r > 0)
                x->len = (size_t) r, x->off = 0;
              else if (r == 0 || (errno != EAGAIN && errno != EINTR))
                x->eof = true;
            }
          if (x->len > x->off && (dst_ev & (POLLOUT | POLLERR | POLLHUP)))
            {
              ssize_t w = send (dst, x->buf + x->off, x->len - x->off, MSG_NOSIGNAL);
              if (w > 0)
                x->off += (size_t) w;
              else if (w < 0 && errno != EAGAIN && errno != EINTR)
                goto out;
              if (x->off == x->len)
                x->off = x->len = 0;
            }
          if (x->eof && x->len == 0 && !x->shut)
            {
              shutdown (dst, SHUT_WR);
              x->shut = true;
            }
        }
    }
out:
  free (ab.buf);
  free (ba.buf);
}

static void
serve_socks5 (int fd, const char *label, char *buf, size_t len, int64_t deadline)
{
  static const uint8_t no_method[] = { 5, 0xff }, method_ok[] = { 5, 0 };
  struct egress_request r;
  bool no_auth;
  int used, up;
  uint8_t code;
  char addr[64] = "", why[400];
  bool refused;

  while ((used = egress_socks5_greeting ((uint8_t *) buf, len, &no_auth)) == 0)
    if (!read_more (fd, buf, &len, EGRESS_MAX_HEAD, deadline))
      return;
  if (used < 0 || !no_auth)
    {
      send_all (fd, no_method, sizeof no_method);
      return;
    }
  send_all (fd, method_ok, sizeof method_ok);
  memmove (buf, buf + used, len - (size_t) used);
  len -= (size_t) used;
  while ((used = egress_socks5_request ((uint8_t *) buf, len, &r, &code)) == 0)
    if (!read_more (fd, buf, &len, EGRESS_MAX_HEAD, deadline))
      return;
  if (used < 0)
    {
      uint8_t reply[10] = { 5, code, 0, 1 };
      send_all (fd, reply, sizeof reply);
      return;
    }
  up = egress_connect (rules_g, r.host, r.port, addr, sizeof addr, &refused, why, sizeof why);
  emit (label, "socks5", &r, up >= 0, addr, up >= 0 ? NULL : why);
  {
    /* Refused by the rules: 2 (not allowed by the ruleset); else 4 or 5.  */
    uint8_t reply[10] = { 5, up >= 0 ? 0 : refused ? 2 : strstr (why, "refused") ? 5 : 4, 0, 1 };
    send_all (fd, reply, sizeof reply);
  }
  if (up >= 0)
    {
      relay (fd, up, buf + used, len - (size_t) used);
      close (up);
    }
}

static void
serve_http (int fd, const char *label, char *buf, size_t len, int64_t deadline)
{
  struct egress_request r;
  char why[400], addr[64] = "", what[300];
  bool refused;
  int rc, up;

  while ((rc = egress_parse_http (buf, len, &r, why, sizeof why)) == 0)
    if (!read_more (fd, buf, &len, EGRESS_MAX_HEAD, deadline))
      return;
  if (rc < 0)
    {
      free (r.forward);
      http_refuse (fd, 400, "a malformed proxy request", why);
      return;
    }
  snprintf (what, sizeof what, strchr (r.host, ':') ? "[%s]:%u" : "%s:%u", r.host, r.port);
  up = egress_connect (rules_g, r.host, r.port, addr, sizeof addr, &refused, why, sizeof why);
  emit (label, r.kind == EGRESS_HTTP_CONNECT ? "connect" : "http", &r, up >= 0, addr,
        up >= 0 ? NULL : why);
  if (up < 0)
    http_refuse (fd, refused ? 403 : 502, refused ? "refused" : "cannot reach", why);
  else if (r.kind == EGRESS_HTTP_CONNECT)
    {
      static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
      send_all (fd, ok, sizeof ok - 1);
      relay (fd, up, buf + r.head_len, len - r.head_len);
    }
  else
    {
      /* The request in origin form, then whatever body came with it.  */
      send_all (up, r.forward, r.forward_len);
      relay (fd, up, buf + r.head_len, len - r.head_len);
    }
  if (up >= 0)
    close (up);
  free (r.forward);
}

static _Noreturn void
serve_connection (int fd, const char *label)
{
  char *buf = malloc (EGRESS_MAX_HEAD);
  size_t len = 0;
  struct timespec ts;
  int64_t deadline;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  deadline = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + HEAD_TIMEOUT_MS;
  if (buf && read_more (fd, buf, &len, EGRESS_MAX_HEAD, deadline))
    {
      if (buf[0] == 5)
        serve_socks5 (fd, label, buf, len, deadline);
      else
        serve_http (fd, label, buf, len, deadline);
    }
  close (fd);
  _exit (0);
}

/* ---- the proxy process ------------------------------------------------------------------- */

struct listener
{
  int fd;
  char label[64];
};

static _Noreturn void
proxy_main (const struct egress_rules *rules, pid_t parent)
{
  struct listener ls[MAX_LISTENERS];
  pid_t conns[MAX_CONNECTIONS];
  int nls = 0, nconns = 0, sfd;
  sigset_t chld;

  rules_g = rules;
  prctl (PR_SET_NAME, "tactus-egress");
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid () != parent)
    _exit (1);
  signal (SIGPIPE, SIG_IGN);
  signal (SIGINT, SIG_IGN);
  signal (SIGHUP, SIG_IGN);
  sigemptyset (&chld);
  sigaddset (&chld, SIGCHLD);
  sigprocmask (SIG_SETMASK, &chld, NULL); /* SIGCHLD through the signalfd only */
  sfd = signalfd (-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  for (;;)
    {
      struct pollfd p[2 + MAX_LISTENERS];
      int n = 0;
      p[n++] = (struct pollfd){ .fd = CTL_FD, .events = POLLIN };
      p[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
      for (int i = 0; i < nls; i++)
        /* At capacity, new connections wait in the backlog.  */
        p[n++]
            = (struct pollfd){ .fd = nconns < MAX_CONNECTIONS ? ls[i].fd : -1, .events = POLLIN };
      if (poll (p, (nfds_t) n, -1) < 0 && errno != EINTR)
        break;
      if (p[1].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          pid_t pid;
          while (read (sfd, &si, sizeof si) == sizeof si)
            ;
          while ((pid = waitpid (-1, NULL, WNOHANG)) > 0)
            for (int i = 0; i < nconns; i++)
              if (conns[i] == pid)
                {
                  conns[i] = conns[--nconns];
                  break;
                }
        }
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
        {
          struct listener l;
          int fd, nfds;
          ssize_t r = fd_recv (CTL_FD, l.label, sizeof l.label - 1, &fd, 1, &nfds);
          if (r <= 0)
            break; /* the launcher is done: stop */
          l.label[r] = '\0';
          if (nfds == 1 && nls < MAX_LISTENERS)
            {
              l.fd = fd;
              ls[nls++] = l;
            }
          else if (nfds == 1)
            close (fd);
        }
      for (int i = 0; i < nls; i++)
        if (p[2 + i].revents & POLLIN)
          {
            int c = accept4 (ls[i].fd, NULL, NULL, SOCK_CLOEXEC);
            pid_t pid;
            if (c < 0)
              continue;
            pid = fork ();
            if (pid == 0)
              {
                for (int j = 0; j < nls; j++)
                  close (ls[j].fd);
                close (CTL_FD);
                close (sfd);
                signal (SIGCHLD, SIG_DFL);
                sigprocmask (SIG_SETMASK, &(sigset_t){ 0 }, NULL);
                prctl (PR_SET_PDEATHSIG, SIGKILL);
                serve_connection (c, ls[i].label);
              }
            close (c);
            if (pid > 0)
              conns[nconns++] = pid;
          }
    }
  /* The run is over: its connections end with it.  */
  for (int i = 0; i < nconns; i++)
    kill (conns[i], SIGKILL);
  while (waitpid (-1, NULL, 0) > 0 || errno == EINTR)
    ;
  _exit (0);
}

int
egress_start (const struct egress_rules *rules, struct egress **out, struct tr_error *err)
{
  struct egress *e = calloc (1, sizeof *e);
  int ctl[2], ev[2];
  pid_t parent = getpid ();

  if (e == NULL)
    return tr_fail (err, ENOMEM, "egress proxy");
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
    {
      free (e);
      return tr_fail (err, errno, "egress proxy: socketpair");
    }
  if (pipe2 (ev, O_CLOEXEC) < 0)
    {
      int x = errno;
      close (ctl[0]), close (ctl[1]), free (e);
      return tr_fail (err, x, "egress proxy: pipe");
    }
  e->pid = fork ();
  if (e->pid < 0)
    {
      int x = errno;
      close (ctl[0]), close (ctl[1]), close (ev[0]), close (ev[1]), free (e);
      return tr_fail (err, x, "egress proxy: fork");
    }
  if (e->pid == 0)
    {
      /* Only its control socket, its event pipe and stderr stay open.  */
      int devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
      if (dup2 (ctl[1], CTL_FD) < 0 || dup2 (ev[1], EVENT_FD) < 0)
        _exit (1);
      if (devnull >= 0)
        dup2 (devnull, 0), dup2 (devnull, 1);
      close_range (EVENT_FD + 1, ~0U, 0);
      proxy_main (rules, parent);
    }
  close (ctl[1]);
  close (ev[1]);
  e->ctl = ctl[0];
  e->events = ev[0];
  fcntl (e->events, F_SETFL, fcntl (e->events, F_GETFL) | O_NONBLOCK);
  *out = e;
  return 0;
}

int
egress_serve (struct egress *e, int listen_fd, const char *label, struct tr_error *err)
{
  char l[64];
  int r;

  snprintf (l, sizeof l, "%s", label && label[0] ? label : "sandbox");
  r = fd_send (e->ctl, l, strlen (l), &listen_fd, 1);
  close (listen_fd);
  return r < 0 ? tr_fail (err, errno, "egress proxy: hand it a listener") : 0;
}

int
egress_event_fd (const struct egress *e)
{
  return e ? e->events : -1;
}

void
egress_drain (struct egress *e, struct trace *t)
{
  ssize_t n;

  if (e == NULL)
    return;
  while ((n = read (e->events, e->buf + e->len, sizeof e->buf - 1 - e->len)) > 0)
    {
      char *nl;
      e->len += (size_t) n;
      e->buf[e->len] = '\0';
      while ((nl = memchr (e->buf, '\n', e->len)) != NULL)
        {
          cJSON *ev;
          *nl = '\0';
          ev = cJSON_Parse (e->buf);
          if (cJSON_IsObject (ev) && t)
            trace_event (t, ev);
          cJSON_Delete (ev);
          memmove (e->buf, nl + 1, e->len - (size_t) (nl + 1 - e->buf));
          e->len -= (size_t) (nl + 1 - e->buf);
        }
      if (e->len == sizeof e->buf - 1)
        e->len = 0; /* no line is this long: drop it */
    }
}

void
egress_stop (struct egress *e, struct trace *t)
{
  int status;

  if (e == NULL)
    return;
  close (e->ctl); /* the proxy sees EOF and ends its connections */
  while (waitpid (e->pid, &status, 0) < 0 && errno == EINTR)
    ;
  fcntl (e->events, F_SETFL, fcntl (e->events, F_GETFL) & ~O_NONBLOCK);
  egress_drain (e, t);
  close (e->events);
  free (e);
}
