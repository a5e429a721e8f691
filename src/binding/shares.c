// Per-user shares of the daemon: at most VSF_SHARE_MAX resolutions of one caller fs uid in flight at once.
//
// A resolution holds a FUSE worker thread, fds on the caller's /proc files, a caller-table entry, its
// environment block (up to the exec limit) and, when it misses the memo, a place in the one JS thread's
// queue. Without a bound, one user's storm (hundreds of threads with megabyte environments, or resolutions
// held by its own hung FUSE server) takes all of those from everyone. With it, another user's resolution
// waits behind at most VSF_SHARE_MAX of each other user's in JS, and a user can pin at most VSF_SHARE_MAX
// resolutions. The next of that user waits for one of them to finish; it is refused only when none has
// finished for VSF_SHARE_WAIT_MS (the user's resolutions are stuck, not merely many or slow).
//
// A share is taken before the caller's /proc files are read and given back when the answer is known: on the
// worker thread for a memo hit or an error, by JS (slotRelease) for a resolution passed to it.
#include "internal.h"
#include <errno.h>
#include <pthread.h>
#include <time.h>

#define USERS_MAX 1024   // distinct uids with a resolution in flight; past it, a new uid is refused too

typedef struct { uint32_t uid; uint32_t n; uint64_t given_back; } share_t;

// Guards users[] and count; a leaf lock (nothing else is taken while it is held). `freed` is signalled when
// a user at its maximum gives a share back. A share is taken with no lock held (docs/design.md, "Locks").
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t freed;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static share_t users[USERS_MAX];  // users[0..count): the uids with n > 0, in no order
static uint32_t count;

static void init (void) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);  // a wait bound the wall clock cannot stretch
  pthread_cond_init(&freed, &a);
  pthread_condattr_destroy(&a);
}

static void deadline (struct timespec *until) {
  clock_gettime(CLOCK_MONOTONIC, until);
  until->tv_sec += VSF_SHARE_WAIT_MS / 1000;
  until->tv_nsec += (long) (VSF_SHARE_WAIT_MS % 1000) * 1000000L;
  if (until->tv_nsec >= 1000000000L) { until->tv_sec++; until->tv_nsec -= 1000000000L; }
}

static share_t *find (uint32_t uid) {
  for (uint32_t i = 0; i < count; i++) if (users[i].uid == uid) return &users[i];
  return NULL;
}

// Takes a share for `uid`: 0, or -EAGAIN when none of its user's resolutions finished for
// VSF_SHARE_WAIT_MS (counted for status).
int vsf_share_take (uint32_t uid) {
  pthread_once(&once, init);
  struct timespec until;
  deadline(&until);
  uint64_t seen = UINT64_MAX;
  int r = 0;
  pthread_mutex_lock(&mu);
  for (;;) {
    share_t *s = find(uid);
    if (s == NULL && count < USERS_MAX) { s = &users[count++]; *s = (share_t) { uid, 0, 0 }; }
    if (s != NULL && s->n < VSF_SHARE_MAX) { s->n++; break; }
    // Its user's resolutions still finish (others got the share): wait on, from now.
    if (s != NULL && seen != UINT64_MAX && s->given_back != seen) deadline(&until);
    seen = s != NULL ? s->given_back : 0;
    if (pthread_cond_timedwait(&freed, &mu, &until) == ETIMEDOUT) { r = -EAGAIN; break; }
  }
  pthread_mutex_unlock(&mu);
  if (r < 0) COUNT(VSF_C_SHARE_REFUSED);
  return r;
}

// Gives back a share `uid` took.
void vsf_share_release (uint32_t uid) {
  pthread_once(&once, init);
  pthread_mutex_lock(&mu);
  share_t *s = find(uid);
  if (s != NULL && s->n > 0) {
    // Only a user at its maximum, or a full table, can have requests waiting.
    int waiters = s->n == VSF_SHARE_MAX || count == USERS_MAX;
    s->given_back++;
    if (--s->n == 0) *s = users[--count];
    if (waiters) pthread_cond_broadcast(&freed);
  }
  pthread_mutex_unlock(&mu);
}
