// The daemon's side of the exec-env helper (see execenv_client.h). A few helper processes, each behind
// its own mutex with one question in flight; a thread takes an idle one, or waits for one with a deadline.
// Every wait is bounded (poll with the same deadline), so a helper stuck on a caller's memory holds only
// the request that asked it: it is killed when the deadline passes and the next call starts a new one.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "execenv_client.h"
#include "execenv_protocol.h"

#define CONNS 4             // helpers at most: questions answered at once
#define TIMEOUT_MS 1000     // per question, waiting for a helper included
#define RETRY_MS 1000       // after a helper failed to start, calls fail fast this long

typedef struct {
  pthread_mutex_t mu;       // guards the rest of this slot (and the helper's stream); a leaf (docs/design.md, "Locks")
  pid_t pid;
  int fd;                   // our end of the socketpair, -1 when no helper runs
  uint32_t seq;
  int64_t retry_at;
} conn_t;

static conn_t conns[CONNS] = { [0 ... CONNS - 1] = { PTHREAD_MUTEX_INITIALIZER, 0, -1, 0, 0 } };
static char *helper_path = NULL;  // helper_path, direct_off: set by execenv_configure before the mount, read-only after
static int direct_off = 0;
static execenv_stats_t stats;

#define COUNT(field) __atomic_add_fetch(&stats.field, 1, __ATOMIC_RELAXED)

static int64_t now_ms (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd (int fd, short events, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return -ETIMEDOUT;
    struct pollfd p = { fd, events, 0 };
    int n = poll(&p, 1, (int) left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) return -ETIMEDOUT;
    return 0;
  }
}

static int recv_full (int fd, void *buf, size_t len, int64_t deadline) {
  size_t got = 0;
  while (got < len) {
    int r = wait_fd(fd, POLLIN, deadline);
    if (r < 0) return r;
    ssize_t n = recv(fd, (char *) buf + got, len - got, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return -errno;
    if (n == 0) return -EPIPE;
    got += (size_t) n;
  }
  return 0;
}

static int send_full (int fd, const void *buf, size_t len, int64_t deadline) {
  while (len > 0) {
    int r = wait_fd(fd, POLLOUT, deadline);
    if (r < 0) return r;
    ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return -errno;
    buf = (const char *) buf + n;
    len -= (size_t) n;
  }
  return 0;
}

// Ends a helper: closing our end makes an idle one exit; SIGKILL ends one stuck on a caller's memory.
static void stop (conn_t *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  if (c->pid > 0) {
    kill(c->pid, SIGKILL);
    for (int i = 0; i < 40 && waitpid(c->pid, NULL, WNOHANG) == 0; i++) usleep(5000);
  }
  c->pid = 0;
}

// Starts a helper on a socketpair (its fd 0 and 1; stderr stays the daemon's log) and reads its hello.
static int start (conn_t *c, int64_t deadline) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -errno;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
  posix_spawnattr_init(&at);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);   // Node ignores SIGPIPE; the helper starts clean
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  char *argv[] = { (char *) "varsymfs-execenv", NULL };
  char *envp[] = { NULL };
  pid_t pid;
  int r = posix_spawn(&pid, helper_path, &fa, &at, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(sv[1]);
  if (r != 0) { close(sv[0]); return -r; }
  c->fd = sv[0];
  c->pid = pid;
  execenv_hello_t h;
  r = recv_full(c->fd, &h, sizeof h, deadline);
  if (r == 0 && (h.magic != EXECENV_MAGIC || h.version != EXECENV_VERSION)) r = -EPROTO;
  if (r == 0 && h.status < 0) r = h.status;
  if (r < 0) { stop(c); return r; }
  COUNT(started);
  return 0;
}

static int ask (conn_t *c, int32_t tid, char **out, size_t *out_len, int64_t deadline) {
  execenv_request_t q = { ++c->seq, tid };
  execenv_answer_t a;
  int r = send_full(c->fd, &q, sizeof q, deadline);
  if (r == 0) r = recv_full(c->fd, &a, sizeof a, deadline);
  if (r == 0 && (a.seq != q.seq || a.status > 1 || (a.status != 1 && a.len != 0) || a.len > EXECENV_MAX_BYTES)) r = -EPROTO;
  char *buf = NULL;
  if (r == 0 && a.status == 1) {
    buf = malloc((size_t) a.len + 1);
    r = buf == NULL ? -ENOMEM : recv_full(c->fd, buf, a.len, deadline);
  }
  if (r < 0) {
    free(buf);
    stop(c);   // the stream is out of step: never read a late answer as the next one's
    COUNT(failed);
    return EXECENV_NO_ANSWER;
  }
  if (a.status < 0) COUNT(refused);
  else if (a.status == 0) COUNT(not_in_exec);
  else { COUNT(answered); *out = buf; *out_len = a.len; }
  return a.status;
}

// An idle helper already running, else any idle slot, else the slot of this tid within the deadline.
static conn_t *claim (int32_t tid, int64_t deadline) {
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < CONNS; i++) {
      if (pthread_mutex_trylock(&conns[i].mu) != 0) continue;
      if (pass == 1 || conns[i].fd >= 0) return &conns[i];
      pthread_mutex_unlock(&conns[i].mu);
    }
  }
  conn_t *c = &conns[(uint32_t) tid % CONNS];
  struct timespec ts = { (time_t) (deadline / 1000), (long) (deadline % 1000) * 1000000 };
  return pthread_mutex_clocklock(&c->mu, CLOCK_MONOTONIC, &ts) == 0 ? c : NULL;
}

int execenv_envp (int32_t tid, char **out, size_t *out_len) {
  if (helper_path == NULL) return -ENOSYS;
  COUNT(asked);
  int64_t deadline = now_ms() + TIMEOUT_MS;
  conn_t *c = claim(tid, deadline);
  if (c == NULL) { COUNT(failed); return EXECENV_NO_ANSWER; }
  int r = 0;
  if (c->fd < 0) {
    if (now_ms() < c->retry_at) r = -EAGAIN;
    else if ((r = start(c, deadline)) < 0) c->retry_at = now_ms() + RETRY_MS;
    if (r < 0) COUNT(failed);
  }
  r = r == 0 ? ask(c, tid, out, out_len, deadline) : EXECENV_NO_ANSWER;
  pthread_mutex_unlock(&c->mu);
  return r;
}

int execenv_refused_in_exec (int status) {
  return status == -ENXIO || status == -EFAULT || status == -E2BIG || status == -EAGAIN;
}

int execenv_configure (const char *path, int direct_disabled) {
  direct_off = direct_disabled;
  if (path == NULL) return 0;
  helper_path = strdup(path);
  if (helper_path == NULL) return -ENOMEM;
  // The self-probe: this very thread is not inside execve, so a working helper answers 0.
  conn_t *c = &conns[0];
  pthread_mutex_lock(&c->mu);
  int64_t deadline = now_ms() + 2 * TIMEOUT_MS;
  int r = start(c, deadline);
  if (r == 0) {
    char *env = NULL;
    size_t len = 0;
    r = ask(c, (int32_t) getpid(), &env, &len, deadline);
    free(env);
    if (r == 0) r = 1;
    else if (r > 0) r = -EPROTO;
  }
  if (r < 0) stop(c);
  pthread_mutex_unlock(&c->mu);
  if (r < 0) {
    free(helper_path);
    helper_path = NULL;
  }
  return r;
}

int execenv_direct_disabled (void) { return direct_off; }

int execenv_enabled (void) { return helper_path != NULL; }

void execenv_get_stats (execenv_stats_t *out) {
  out->asked = __atomic_load_n(&stats.asked, __ATOMIC_RELAXED);
  out->answered = __atomic_load_n(&stats.answered, __ATOMIC_RELAXED);
  out->not_in_exec = __atomic_load_n(&stats.not_in_exec, __ATOMIC_RELAXED);
  out->refused = __atomic_load_n(&stats.refused, __ATOMIC_RELAXED);
  out->failed = __atomic_load_n(&stats.failed, __ATOMIC_RELAXED);
  out->started = __atomic_load_n(&stats.started, __ATOMIC_RELAXED);
}
