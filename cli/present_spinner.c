/* The spinner (present_spinner.h).
 *
 * A thread draws it, because the broker waits on the model inside one
 * blocking call.  The thread only sleeps, reads the clock, formats into a
 * buffer on its stack and write(2)s under a mutex of its own: it never
 * holds a lock a forked child could need (no malloc, no stdio), so the
 * sandbox children the launcher forks mid-run are not affected.  The
 * renderer holds it back (present_spinner_clear) for as long as it
 * writes.  */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/present.h"
#include "cli/present_spinner.h"

struct present_spinner
{
  pthread_t thread;
  pthread_mutex_t lock;
  int fd;
  bool color;
  bool waiting; /* on a model */
  bool held;    /* the renderer is writing */
  bool shown;   /* the spinner line is on the screen */
  bool quit;
  struct timespec t0;
  char what[96]; /* escaped: "NAME is thinking" */
};

static long
elapsed_ms (const struct timespec *t0)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
erase (struct present_spinner *s)
{
  if (s->shown && write (s->fd, "\r\033[K", 4) < 0)
    return;
  s->shown = false;
}

static void *
spin (void *arg)
{
  static const char *const frames[] = { "⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏" };
  struct present_spinner *s = arg;
  unsigned frame = 0;

  for (;;)
    {
      struct timespec nap = { 0, 100 * 1000 * 1000 };
      char line[200];
      long ms;
      int n;

      nanosleep (&nap, NULL);
      pthread_mutex_lock (&s->lock);
      if (s->quit)
        {
          pthread_mutex_unlock (&s->lock);
          return NULL;
        }
      ms = elapsed_ms (&s->t0);
      /* Quick answers show nothing.  */
      if (s->waiting && !s->held && ms >= 500)
        {
          n = snprintf (line, sizeof line, "\r%s%s %s… %ld.%ld s%s\033[K",
                        s->color ? "\033[2m" : "", frames[frame++ % 10], s->what, ms / 1000,
                        (ms / 100) % 10, s->color ? "\033[0m" : "");
          if (n > 0 && write (s->fd, line, (size_t) n) == n)
            s->shown = true;
        }
      pthread_mutex_unlock (&s->lock);
    }
}

void
present_spinner_start (struct present *p, const char *agent)
{
  struct present_spinner *s = p->spin;
  char name[48];

  if (!p->tty || p->f == NULL)
    return;
  if (s == NULL)
    {
      s = calloc (1, sizeof *s);
      if (s == NULL)
        return;
      pthread_mutex_init (&s->lock, NULL);
      s->fd = fileno (p->f);
      s->color = p->color;
      s->held = true;
      if (pthread_create (&s->thread, NULL, spin, s) != 0)
        {
          pthread_mutex_destroy (&s->lock);
          free (s);
          return;
        }
      p->spin = s;
    }
  present_escape (agent ? agent : "the agent", name, sizeof name, PRESENT_ONE_LINE);
  pthread_mutex_lock (&s->lock);
  snprintf (s->what, sizeof s->what, "%s is thinking", name);
  clock_gettime (CLOCK_MONOTONIC, &s->t0);
  s->waiting = true;
  pthread_mutex_unlock (&s->lock);
}

void
present_spinner_clear (struct present *p)
{
  struct present_spinner *s = p->spin;

  if (s == NULL)
    return;
  pthread_mutex_lock (&s->lock);
  s->held = true;
  erase (s);
  pthread_mutex_unlock (&s->lock);
}

void
present_spinner_resume (struct present *p)
{
  struct present_spinner *s = p->spin;

  if (s == NULL)
    return;
  pthread_mutex_lock (&s->lock);
  s->held = p->mid_line; /* never over streamed text */
  pthread_mutex_unlock (&s->lock);
}

void
present_spinner_stop (struct present *p)
{
  struct present_spinner *s = p->spin;

  if (s == NULL)
    return;
  pthread_mutex_lock (&s->lock);
  s->waiting = false;
  erase (s);
  pthread_mutex_unlock (&s->lock);
}

void
present_spinner_free (struct present *p)
{
  struct present_spinner *s = p->spin;

  if (s == NULL)
    return;
  pthread_mutex_lock (&s->lock);
  s->quit = true;
  erase (s);
  pthread_mutex_unlock (&s->lock);
  pthread_join (s->thread, NULL);
  pthread_mutex_destroy (&s->lock);
  free (s);
  p->spin = NULL;
}
