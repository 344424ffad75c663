/* Keeping the broker and the VM on one CPU while they talk.
 *
 * The VM and the broker take turns: a request, then its reply.  When a
 * procedure makes many broker calls in a row, waking the other side on
 * another CPU costs far more than the work (on virtual machines a
 * cross-CPU wake-up is several times the whole round trip).  When it
 * computes, sharing a CPU would only slow it down.  So the broker watches
 * the request rate: above PAIR_RATE requests per window both are pinned to
 * the CPU the broker runs on; below UNPAIR_RATE (or after a quiet window)
 * both get their original CPUs back.  */
#define _GNU_SOURCE
#include <sched.h>
#include <time.h>

#include "broker/internal.h"

#define WINDOW_MS 100
#define PAIR_RATE 200  /* requests in a window: 2000/s */
#define UNPAIR_RATE 20 /* 200/s */

static int64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
set_both (struct broker_state *b, const cpu_set_t *set)
{
  sched_setaffinity (0, sizeof *set, set);
  if (b->peer->pid > 0)
    sched_setaffinity (b->peer->pid, sizeof *set, set);
}

static void
judge_window (struct broker_state *b, int64_t now)
{
  struct broker_affinity *a = &b->affinity;

  if (!a->paired && a->count >= PAIR_RATE)
    {
      cpu_set_t one;
      int cpu = sched_getcpu ();
      if (cpu >= 0 && CPU_ISSET (cpu, &a->original))
        {
          CPU_ZERO (&one);
          CPU_SET (cpu, &one);
          set_both (b, &one);
          a->paired = true;
        }
    }
  else if (a->paired && a->count < UNPAIR_RATE)
    {
      set_both (b, &a->original);
      a->paired = false;
    }
  a->count = 0;
  a->window_start = now;
}

void
broker_affinity_start (struct broker_state *b)
{
  struct broker_affinity *a = &b->affinity;

  a->enabled = sched_getaffinity (0, sizeof a->original, &a->original) == 0
               && CPU_COUNT (&a->original) > 1;
  a->window_start = now_ms ();
}

void
broker_affinity_request (struct broker_state *b)
{
  struct broker_affinity *a = &b->affinity;
  int64_t now;

  if (!a->enabled)
    return;
  a->count++;
  now = now_ms ();
  if (now - a->window_start >= WINDOW_MS)
    judge_window (b, now);
}

int
broker_affinity_timeout (struct broker_state *b, int timeout)
{
  struct broker_affinity *a = &b->affinity;
  int64_t left;

  if (!a->enabled || !a->paired)
    return timeout;
  left = a->window_start + WINDOW_MS - now_ms ();
  if (left < 0)
    left = 0;
  return timeout < 0 || left < timeout ? (int) left : timeout;
}

void
broker_affinity_tick (struct broker_state *b)
{
  struct broker_affinity *a = &b->affinity;
  int64_t now;

  if (!a->enabled || !a->paired)
    return;
  now = now_ms ();
  if (now - a->window_start >= WINDOW_MS)
    judge_window (b, now);
}
