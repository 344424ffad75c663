/* The broker's event loop: one thread, poll() on the socket, the peer's
 * pidfd and a signalfd; the run's deadline is poll's timeout.
 *
 * The peer is untrusted.  Every frame is decoded with bounded sizes; a
 * malformed, oversized or out-of-order frame gets an error reply and a
 * trace event, and after max_violations the peer is killed.  A request is
 * served to completion before the next is read, so a flood only slows the
 * flooder.
 *
 * The broker never blocks on the VM: its end of the socket is non-blocking,
 * replies the VM does not take go to a bounded queue flushed when poll
 * says the socket is writable, a new request while replies are still queued
 * is a violation (the VM sends one request at a time and reads every
 * reply), and a queue over BROKER_MAX_OUTBOUND gets the sandbox killed.  So
 * the deadline and the signals are always served.  */
#define _GNU_SOURCE
#include "broker/broker.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker/internal.h"
#include "broker/trace.h"
#include "common/frame.h"

static int64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The VM is killed: what it was sent no longer matters.  */
static void
kill_peer (struct broker_state *b)
{
  b->out->killed_for_violations = true;
  broker_outq_free (b);
  b->out_closed = true;
  b->peer->kill (b->peer->ctx);
}

void
broker_outq_free (struct broker_state *b)
{
  while (b->outq)
    {
      struct broker_outpkt *next = b->outq->next;
      if (b->outq->fd >= 0)
        close (b->outq->fd);
      free (b->outq);
      b->outq = next;
    }
  b->outq_last = NULL;
  b->outq_bytes = 0;
}

/* One packet, now: 1 sent, 0 the socket is full, -1 the VM's end is gone.
 * FD (-1: none) goes with it (SCM_RIGHTS); the caller still closes it.  */
static int
send_packet (struct broker_state *b, const uint8_t *pkt, size_t n, int fd)
{
  ssize_t w;

  if (fd >= 0)
    {
      /* MSG_DONTWAIT: the socket is non-blocking already, this says so.  */
      struct iovec iov = { .iov_base = (void *) pkt, .iov_len = n };
      union
      {
        char buf[CMSG_SPACE (sizeof (int))];
        struct cmsghdr align;
      } u;
      struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf
      };
      struct cmsghdr *c = CMSG_FIRSTHDR (&mh);

      memset (&u, 0, sizeof u);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN (sizeof (int));
      memcpy (CMSG_DATA (c), &fd, sizeof fd);
      do
        w = sendmsg (b->peer->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
      while (w < 0 && errno == EINTR);
    }
  else
    do
      w = send (b->peer->fd, pkt, n, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
  if (w >= 0)
    return 1;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
    return 0;
  return -1;
}

static void
out_gone (struct broker_state *b)
{
  broker_outq_free (b);
  b->out_closed = true;
}

int
broker_flush (struct broker_state *b)
{
  while (b->outq && !b->out_closed)
    {
      struct broker_outpkt *q = b->outq;
      int r = send_packet (b, q->data, q->len, q->fd);
      if (r == 0)
        return 1;
      if (r < 0)
        {
          out_gone (b);
          return 0;
        }
      b->outq = q->next;
      if (b->outq == NULL)
        b->outq_last = NULL;
      b->outq_bytes -= q->len + BROKER_OUTPKT_OVERHEAD;
      if (q->fd >= 0)
        close (q->fd);
      free (q);
    }
  return 0;
}

static void
outbound_overflow (struct broker_state *b)
{
  b->out->violations++;
  snprintf (b->out->violation, sizeof b->out->violation,
            "it does not read the broker's replies (more than %d MiB queued)",
            BROKER_MAX_OUTBOUND >> 20);
  trace_note (b->o->trace, "protocol_violation", "ERROR",
              "the sandbox does not read the broker's replies (more than %d MiB queued): the "
              "sandbox was killed",
              BROKER_MAX_OUTBOUND >> 20);
  kill_peer (b);
}

/* frame_pack's sink: send at once when nothing is queued, else queue (a
 * descriptor FD is duplicated for the queue: frame_pack's caller closes
 * its own).  */
static int
emit_packet (void *ctx, const uint8_t *pkt, size_t n, int fd)
{
  struct broker_state *b = ctx;
  struct broker_outpkt *q;
  int r;

  if (b->out_closed)
    return 0;
  if (b->outq && broker_flush (b) == 0 && b->out_closed)
    return 0;
  if (b->outq == NULL)
    {
      r = send_packet (b, pkt, n, fd);
      if (r != 0)
        {
          if (r < 0)
            out_gone (b);
          return 0;
        }
    }
  if (b->outq_bytes + n + BROKER_OUTPKT_OVERHEAD > BROKER_MAX_OUTBOUND)
    {
      outbound_overflow (b);
      errno = ENOBUFS;
      return -1;
    }
  q = malloc (sizeof *q + n);
  if (q == NULL)
    return -1;
  q->fd = fd >= 0 ? fcntl (fd, F_DUPFD_CLOEXEC, 0) : -1;
  if (fd >= 0 && q->fd < 0)
    {
      free (q);
      return -1;
    }
  q->next = NULL;
  q->len = n;
  memcpy (q->data, pkt, n);
  if (b->outq_last)
    b->outq_last->next = q;
  else
    b->outq = q;
  b->outq_last = q;
  b->outq_bytes += n + BROKER_OUTPKT_OVERHEAD;
  return 0;
}

static int
send_message (struct broker_state *b, const char *text, int fd)
{
  struct tr_error err;

  return frame_pack (text, strlen (text), fd, emit_packet, b, &err);
}

int
broker_reply (struct broker_state *b, const cJSON *id, const char *event, cJSON *data)
{
  return broker_reply_fd (b, id, event, data, -1);
}

int
broker_reply_fd (struct broker_state *b, const cJSON *id, const char *event, cJSON *data, int fd)
{
  cJSON *msg = cJSON_CreateObject ();
  char *text;
  int r;

  cJSON_AddItemToObject (msg, "id", id ? cJSON_Duplicate (id, 1) : cJSON_CreateNull ());
  cJSON_AddStringToObject (msg, "event", event);
  if (data)
    cJSON_AddItemToObject (msg, "data", data);
  text = cJSON_PrintUnformatted (msg);
  cJSON_Delete (msg);
  if (text == NULL)
    return -1;
  r = send_message (b, text, fd);
  cJSON_free (text);
  return r;
}

int
broker_reply_error (struct broker_state *b, const cJSON *id, const char *type, const char *fmt, ...)
{
  cJSON *msg = cJSON_CreateObject (), *e = cJSON_CreateObject ();
  char text[1024];
  char *s;
  va_list ap;
  int r;

  va_start (ap, fmt);
  vsnprintf (text, sizeof text, fmt, ap);
  va_end (ap);
  cJSON_AddItemToObject (msg, "id", id ? cJSON_Duplicate (id, 1) : cJSON_CreateNull ());
  cJSON_AddStringToObject (msg, "event", "error");
  cJSON_AddStringToObject (e, "type", type);
  cJSON_AddStringToObject (e, "message", text);
  cJSON_AddItemToObject (msg, "error", e);
  s = cJSON_PrintUnformatted (msg);
  cJSON_Delete (msg);
  if (s == NULL)
    return -1;
  r = send_message (b, s, -1);
  cJSON_free (s);
  return r;
}

void
broker_violation (struct broker_state *b, const cJSON *id, const char *why)
{
  b->out->violations++;
  snprintf (b->out->violation, sizeof b->out->violation, "%s", why);
  trace_note (b->o->trace, "protocol_violation", "WARNING", "the sandbox sent a bad message: %s",
              why);
  broker_reply_error (b, id, "BadRequest", "%s", why);
  if (b->out->violations >= b->o->max_violations && !b->out->killed_for_violations)
    {
      trace_note (b->o->trace, "protocol_violation", "ERROR",
                  "%d protocol violations: the sandbox was killed", b->out->violations);
      kill_peer (b);
    }
}

void
broker_handle_message (struct broker_state *b, const char *text, size_t len)
{
  cJSON *msg = cJSON_ParseWithLength (text, len);
  const cJSON *id, *method, *params;

  if (!cJSON_IsObject (msg))
    {
      broker_violation (b, NULL, "the message is not a JSON object");
      cJSON_Delete (msg);
      return;
    }
  id = cJSON_GetObjectItemCaseSensitive (msg, "id");
  method = cJSON_GetObjectItemCaseSensitive (msg, "method");
  params = cJSON_GetObjectItemCaseSensitive (msg, "params");
  /* A message without an id is a notification: one-way, never answered,
   * and only events.emit and run.finish may be one.  */
  if (id == NULL && cJSON_IsString (method) && (params == NULL || cJSON_IsObject (params))
      && (strcmp (method->valuestring, "events.emit") == 0
          || strcmp (method->valuestring, "run.finish") == 0))
    {
      b->out->requests++;
      broker_affinity_request (b);
      broker_dispatch (b, NULL, method->valuestring, params);
    }
  else if (!(cJSON_IsNumber (id) || cJSON_IsString (id)))
    broker_violation (b, NULL, "the request has no id (a number or a string)");
  else if (!cJSON_IsString (method))
    broker_violation (b, id, "the request has no method");
  else if (params && !cJSON_IsObject (params))
    broker_violation (b, id, "params must be an object");
  /* Replies to the previous request are still queued, so the VM has not
   * read its final reply: it does not wait as the protocol says.  Only
   * run.finish may come at any time (the VM's last word on its way out,
   * e.g. at its memory cap).  */
  else if (b->outq != NULL && strcmp (method->valuestring, "run.finish") != 0)
    broker_violation (b, id, "a new request before the replies to the previous one were read");
  else
    {
      b->out->requests++;
      broker_affinity_request (b);
      broker_dispatch (b, id, method->valuestring, params);
    }
  cJSON_Delete (msg);
}

static int
setup_signals (sigset_t *old)
{
  sigset_t set;

  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGHUP);
  if (sigprocmask (SIG_BLOCK, &set, old) < 0)
    return -1;
  return signalfd (-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void
on_signal (struct broker_state *b, int sfd, int64_t *grace_deadline)
{
  struct signalfd_siginfo si;

  while (read (sfd, &si, sizeof si) == sizeof si)
    {
      int sig = (int) si.ssi_signo == SIGHUP ? SIGTERM : (int) si.ssi_signo;
      if (b->out->interrupted)
        {
          /* A second signal: stop waiting for a graceful end.  */
          b->peer->kill (b->peer->ctx);
          continue;
        }
      b->out->interrupted = true;
      b->out->stop_signal = sig;
      trace_note (b->o->trace, "log", "WARNING", "%s received: stopping the run",
                  sig == SIGINT ? "SIGINT" : "SIGTERM");
      b->peer->signal (b->peer->ctx, sig);
      *grace_deadline = now_ms () + (int64_t) (b->o->grace_seconds * 1000);
    }
}

static int
poll_timeout (struct broker_state *b, int64_t grace_deadline)
{
  int t = b->peer->ms_left (b->peer->ctx);

  if (b->out->timed_out)
    t = -1;
  if (grace_deadline)
    {
      int64_t g = grace_deadline - now_ms ();
      if (g < 0)
        g = 0;
      if (t < 0 || g < t)
        t = (int) g;
    }
  return t;
}

int
broker_serve (const struct broker_options *o, struct broker_peer *peer, struct broker_outcome *out,
              struct tr_error *err)
{
  struct broker_state b = { .o = o, .peer = peer, .out = out };
  struct frame_asm a = { 0 };
  sigset_t old;
  int sfd, fl;
  int64_t grace_deadline = 0;
  bool fd_open = true;

  memset (out, 0, sizeof *out);
  snprintf (out->status, sizeof out->status, "error");
  sfd = setup_signals (&old);
  if (sfd < 0)
    return tr_fail (err, errno, "broker: signalfd");
  /* Never block on the VM: see broker_flush.  */
  fl = fcntl (peer->fd, F_GETFL);
  if (fl < 0 || fcntl (peer->fd, F_SETFL, fl | O_NONBLOCK) < 0)
    {
      int e = errno;
      close (sfd);
      sigprocmask (SIG_SETMASK, &old, NULL);
      return tr_fail (err, e, "broker: the socket cannot be made non-blocking");
    }
  broker_storage_open (&b);
  broker_affinity_start (&b);

  for (;;)
    {
      /* Without a pidfd (valgrind has no pidfd_open), the peer's end of
       * the socket closing marks its exit: stop before polling nothing.  */
      if (peer->pidfd < 0 && !fd_open)
        break;
      /* The VM's socket, its pidfd, the signals, then what the run's other
       * processes send (the egress proxy's events, MCP servers' stderr).  */
      struct pollfd p[3 + BROKER_MAX_WATCH] = {
        { .fd = fd_open ? peer->fd : -1, .events = POLLIN | (b.outq ? POLLOUT : 0) },
        { .fd = peer->pidfd, .events = POLLIN },
        { .fd = sfd, .events = POLLIN },
      };
      int nw = broker_watch_fds (&b, p + 3, BROKER_MAX_WATCH);
      int timeout = broker_affinity_timeout (&b, poll_timeout (&b, grace_deadline));
      int n = poll (p, (nfds_t) (3 + nw), timeout);

      if (n < 0 && errno != EINTR)
        {
          tr_fail (err, errno, "broker: poll");
          break;
        }
      /* Checked on every turn, not only when poll times out: a VM that
       * keeps the socket busy must not hold the run past its deadline.  */
      if (grace_deadline && now_ms () >= grace_deadline)
        {
          peer->kill (peer->ctx);
          grace_deadline = 0;
        }
      else if (!out->timed_out && peer->ms_left (peer->ctx) == 0)
        {
          out->timed_out = true;
          trace_note (o->trace, "log", "ERROR", "the run passed its deadline: killing the sandbox");
          broker_outq_free (&b);
          b.out_closed = true;
          peer->kill (peer->ctx);
        }
      if (n == 0)
        {
          broker_affinity_tick (&b);
          continue;
        }
      if (p[2].revents & POLLIN)
        on_signal (&b, sfd, &grace_deadline);
      if (nw > 0)
        broker_watch_ready (&b, p + 3, nw);
      if (fd_open && b.outq && (p[0].revents & (POLLOUT | POLLHUP | POLLERR)))
        broker_flush (&b);
      if (fd_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
        {
          struct tr_error ferr;
          int r;
          /* EOF (-2) fills no error: ERR must not be read as an old one
           * (an EAGAIN left on the stack would loop here for ever).  */
          tr_error_clear (&ferr);
          r = frame_recv_packet (peer->fd, &a, &ferr);
          if (r != -2 && r < 0 && (ferr.errnum == EAGAIN || ferr.errnum == EWOULDBLOCK))
            continue;
          if (r == -2 || (r < 0 && ferr.errnum != 0))
            fd_open = false; /* EOF (the VM ended) or a broken socket */
          else if (r < 0)
            broker_violation (&b, NULL, ferr.msg);
          else if (r == FRAME_COMPLETE)
            {
              broker_handle_message (&b, a.buf, a.len);
              frame_asm_reset (&a);
            }
          continue; /* drain the socket before looking at the pidfd */
        }
      if (p[1].revents & POLLIN)
        break;
    }
  frame_asm_free (&a);
  broker_outq_free (&b);
  /* The run's MCP servers and its egress proxy end with it.  */
  broker_mcp_stop_all (&b);
  fcntl (peer->fd, F_SETFL, fl);
  broker_storage_close (&b);
  close (sfd);
  sigprocmask (SIG_SETMASK, &old, NULL);
  return 0;
}

void
broker_outcome_free (struct broker_outcome *out)
{
  cJSON_Delete (out->finish);
  out->finish = NULL;
}
