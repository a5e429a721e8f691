// The watches and the epoch: every directory a local walk passes is watched (inotify) before it is looked
// at, for the events that can change what a walk sees: a project file created, removed, renamed, written,
// chmod'ed; a directory moved (which changes whose parent is whose), removed or chmod'ed. Any such event, a
// lost one (queue overflow), a change of the mount table (mounts.c) or a restart of the watches starts a
// new epoch; a walk kept by the fast path (fast.c) holds only within the epoch it began in.
#include "internal.h"
#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define WATCHES_MAX 8192

_Atomic uint64_t epoch = 1;

// Under fast_mu (fast.c), with the kept walks they keep valid: inotify_fd (a restart closes it), max_wd,
// watches, and the reading of the queue.
static int inotify_fd = -1;
static int max_wd;
static uint32_t watches;

// Whether one event can change a walk: children's events name them, and only project files and
// directories matter.
static int matters (const struct inotify_event *ev) {
  if (ev->len > 0 && !(ev->mask & IN_ISDIR) && !relevant_name(ev->name)) return 0;
  if (ev->len > 0 && (ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE)) && !relevant_name(ev->name)) return 0;
  return 1;
}

// Reads pending events and the mount table's flag: the current epoch. Called with fast_mu held.
uint64_t current_epoch (void) {
  mounts_poll();
  char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
  for (;;) {
    ssize_t n = inotify_fd < 0 ? 0 : read(inotify_fd, buf, sizeof buf);
    if (n <= 0) break;
    for (char *at = buf; at < buf + n; ) {
      struct inotify_event *ev = (struct inotify_event *) at;
      at += sizeof *ev + ev->len;
      if (matters(ev)) atomic_fetch_add(&epoch, 1);
    }
  }
  return atomic_load(&epoch);
}

// Watches directory `dir`. -errno when it cannot be watched.
int watch (const char *dir) {
  pthread_mutex_lock(&fast_mu);
  if (inotify_fd < 0) inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd >= 0 && watches >= WATCHES_MAX) {
    // Too many directories seen: start over (every kept walk is dropped with the new epoch).
    close(inotify_fd);
    inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    watches = 0;
    max_wd = 0;
    atomic_fetch_add(&epoch, 1);
  }
  int r = -1;
  if (inotify_fd >= 0) {
    uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_MODIFY | IN_CLOSE_WRITE |
      IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW;
    r = inotify_add_watch(inotify_fd, dir, mask);
    if (r < 0) r = -errno;
    if (r > max_wd) { max_wd = r; watches++; }  // a directory watched already keeps its number
  } else r = -EMFILE;
  pthread_mutex_unlock(&fast_mu);
  return r < 0 ? r : 0;
}

// Watches each subdirectory of `dir` that nested name `name` lies in, outermost first, up to the first absent
// one. -errno when one cannot be watched (a symlink: ENOTDIR).
int watch_beneath (const char *dir, size_t len, const char *name) {
  char sub[PATH_MAX], part[256];
  for (const char *slash = strchr(name, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
    size_t n = (size_t) (slash - name);
    if (n >= sizeof part) return -ENAMETOOLONG;
    memcpy(part, name, n);
    part[n] = 0;
    if (!join(sub, dir, len, part)) return -ENAMETOOLONG;
    int r = watch(sub);
    if (r == -ENOENT) return 0;
    if (r < 0) return r;
  }
  return 0;
}
