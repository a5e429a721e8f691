// A walk on a thread of its own: one that touches a network or FUSE filesystem (or follows a symlinked
// project file) may stall, so it runs on a detached thread and is given up after the mount's
// --project-timeout (scope.c: give_up); only that caller waits. Per user: a user's hung filesystem holds
// that user's walks only. Past INFLIGHT_MAX running at once, that user's next ones are given up at once
// (other users' are not).
#include "internal.h"
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define INFLIGHT_SLOTS 256
#define INFLIGHT_MAX 16
static struct { uint32_t uid; int n; } inflight[INFLIGHT_SLOTS];
static pthread_mutex_t inflight_mu = PTHREAD_MUTEX_INITIALIZER;  // guards inflight[]; a leaf

static int inflight_take (uint32_t uid) {
  int ok = 0;
  pthread_mutex_lock(&inflight_mu);
  int slot = -1;
  for (int i = 0; i < INFLIGHT_SLOTS; i++) {
    if (inflight[i].n > 0 && inflight[i].uid == uid) { slot = i; break; }
    if (inflight[i].n == 0 && slot < 0) slot = i;
  }
  if (slot >= 0 && inflight[slot].n < INFLIGHT_MAX) { inflight[slot].uid = uid; inflight[slot].n++; ok = 1; }
  pthread_mutex_unlock(&inflight_mu);
  return ok;
}

static void inflight_put (uint32_t uid) {
  pthread_mutex_lock(&inflight_mu);
  for (int i = 0; i < INFLIGHT_SLOTS; i++) if (inflight[i].n > 0 && inflight[i].uid == uid) { inflight[i].n--; break; }
  pthread_mutex_unlock(&inflight_mu);
}

typedef struct { vsf_project_t *p; void (*fn) (vsf_project_t *); } job_t;

static void *run_job (void *arg) {
  job_t *j = arg;
  j->fn(j->p);
  uint32_t uid = j->p->req.uid;
  pthread_mutex_lock(&j->p->mu);
  j->p->done = 1;
  pthread_cond_signal(&j->p->cv);
  pthread_mutex_unlock(&j->p->mu);
  inflight_put(uid);
  release(j->p);
  free(j);
  return NULL;
}

// Starts j on a detached thread: 0, or -EAGAIN.
static int start (job_t *j) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t t;
  int r = pthread_create(&t, &attr, run_job, j) != 0 ? -EAGAIN : 0;
  pthread_attr_destroy(&attr);
  return r;
}

// Waits for p's walk thread until the mount's --project-timeout from now: whether it is done.
static int wait_done (vsf_project_t *p) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  uint64_t ms = vsf_config.project_timeout_ms;
  until.tv_sec += (time_t) (ms / 1000);
  until.tv_nsec += (long) (ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
  pthread_mutex_lock(&p->mu);
  while (!p->done) if (pthread_cond_timedwait(&p->cv, &p->mu, &until) != 0) break;
  int done = p->done;
  pthread_mutex_unlock(&p->mu);
  return done;
}

// Runs fn(p) here, or on a thread of its own within the timeout when the walk touches a network or FUSE
// filesystem (or follows a symlinked project file). 0, or -ETIMEDOUT (p is then left to that thread, and
// must not be used by the caller).
int timed (vsf_project_t *p, void (*fn) (vsf_project_t *)) {
  if (!p->remote && !p->links) { fn(p); return 0; }
  if (!inflight_take(p->req.uid)) return -ETIMEDOUT;
  job_t *j = malloc(sizeof *j);
  if (j == NULL) { inflight_put(p->req.uid); return -ENOMEM; }
  *j = (job_t) { p, fn };
  p->done = 0;
  atomic_fetch_add(&p->refs, 1);
  if (start(j) != 0) { atomic_fetch_sub(&p->refs, 1); free(j); inflight_put(p->req.uid); return -EAGAIN; }
  return wait_done(p) ? 0 : -ETIMEDOUT;
}
