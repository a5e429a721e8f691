// The project scope's mechanics: which project files a caller's working directory sees, walking up to its
// root, and their bytes for JS. TS owns every rule about them (file formats, precedence, names: the
// names arrive by configure(), in precedence order); C only finds files, proves they are unchanged, and
// reads them as the caller.
//
// Exact and fresh. A resolution that needs the project scope walks every time: it reads the caller's
// working directory (/proc/<tid>/cwd), stats each directory up to the caller's root, and stats each
// project file present. What it saw is a *state*: for each file, its place on the walk, its identity
// (device, inode, ctime, mtime, size, mode, owner) or the error the caller got, and in a root daemon
// serving others the caller's ids and groups. Equal states are interned under one number, never reused,
// and the memo keys project-dependent answers by that number. A file edited, created, removed, renamed or
// chmod'ed changes its state; a directory on the walk that gains or loses a project file changes its
// ctime, which invalidates the only thing kept between walks (which names a directory holds). Timestamps
// are trusted only once settled: a ctime within SETTLE_NS of now could be shared with a change still to
// come (coarse clocks), so such a state is not interned and its answer is not kept (git's "racily clean").
//
// Safe. Files are stat'ed and read as the caller (creds.c, in a root daemon serving others); one it cannot
// read counts as absent. A working directory inside our own mount is walked in the backing store, with
// openat2 never following a symlink there; a project file that is a symlink in the store counts as absent.
// Outside the mount, a symlinked project file is followed as the caller would, but a name in a subdirectory
// (mise's `.config/mise.toml`) is opened through no symlink at all (nested()). Only a file owned by the
// caller or root (a symlinked one's link too) that no one else may write, or under a --trust-dir, is read (judge()). Reads are bounded
// (VSF_PROJECT_FILE_MAX) and never block on a FIFO. A walk that touches a network or FUSE filesystem runs on
// a thread of its own and is given up after the mount's --project-timeout: only that caller waits, and it
// still gets the files of the local directories below the one that may stall (give_up: partial, not kept).
#include "internal.h"
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/inotify.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define SETTLE_NS 50000000LL     // 50 ms: several jiffies of a coarse clock

// A name in a subdirectory (mise's `.config/mise.toml`): opened beneath its directory, never through a
// symlink (RESOLVE_NO_SYMLINKS: neither in its middle nor at its end), and looked at on every walk (a change
// in the subdirectory leaves the directory's ctime alone: not kept in `dirs`).
static int nested (const char *name) { return strchr(name, '/') != NULL; }

// Whether `name` (one directory entry) is a project file's name or a subdirectory one lies in.
static int relevant_name (const char *name) {
  size_t n = strlen(name);
  for (uint32_t i = 0; i < vsf_config.project_count; i++) {
    for (const char *c = vsf_config.project_names[i]; *c; ) {
      const char *end = strchrnul(c, '/');
      if ((size_t) (end - c) == n && memcmp(c, name, n) == 0) return 1;
      c = *end ? end + 1 : end;
    }
  }
  return 0;
}

// ---- the mount table: which directories are on a network or FUSE filesystem ---------------------------

typedef struct { char *point; size_t len; int remote; uint64_t id; uint32_t fuse_user; } mnt_t;  // fuse_user: see mount_owner
// Guards the table (mnts, nmnts) and mountinfo_fd: the fd itself, its offset (mounts_load reads from 0) and
// its poll flag (a poll that reports a change also clears it, so the poll and the reload it calls for are
// one step under this lock). Taken last: nothing is locked while it is held (docs/design.md, "Locks").
static pthread_mutex_t mnt_mu = PTHREAD_MUTEX_INITIALIZER;
static mnt_t *mnts;
static size_t nmnts;
static int mountinfo_fd = -1;
static _Atomic uint64_t epoch = 1;  // the fast path's: bumped by any change that can alter a walk

static int remote_type (const char *t) {
  static const char *types[] = { "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "afs", "lustre",
    "gpfs", "ncpfs", "davfs", "coda", "virtiofs", "sshfs", "ocfs2", "gfs2", "orangefs", "beegfs", NULL };
  if (strncmp(t, "fuse", 4) == 0) return 1;
  for (int i = 0; types[i] != NULL; i++) if (strcmp(t, types[i]) == 0) return 1;
  return 0;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
static size_t unescape (char *s) {
  char *w = s;
  for (char *r = s; *r; ) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
      *w++ = (char) ((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 4;
    } else *w++ = *r++;
  }
  *w = 0;
  return (size_t) (w - s);
}

// A FUSE mount's mounter (its user_id= option: the kernel sets it from who mounted, fusermount included);
// UINT32_MAX when not FUSE or not said.
static uint32_t fuse_user (const char *type, const char *super) {
  if (strncmp(type, "fuse", 4) != 0 || super == NULL) return UINT32_MAX;
  for (const char *o = super; o != NULL; o = strchr(o, ',') != NULL ? strchr(o, ',') + 1 : NULL) {
    if (strncmp(o, "user_id=", 8) == 0) { char *end; unsigned long v = strtoul(o + 8, &end, 10); return (*end == ',' || *end == 0) && v < UINT32_MAX ? (uint32_t) v : UINT32_MAX; }
  }
  return UINT32_MAX;
}

static void mounts_load (void) {
  size_t cap = 65536, len = 0;
  char *buf = malloc(cap);
  if (buf == NULL) return;
  lseek(mountinfo_fd, 0, SEEK_SET);
  for (;;) {
    if (len + 4096 > cap) { char *b = realloc(buf, cap *= 2); if (b == NULL) { free(buf); return; } buf = b; }
    ssize_t n = read(mountinfo_fd, buf + len, cap - len - 1);
    if (n <= 0) break;
    len += (size_t) n;
  }
  buf[len] = 0;
  for (size_t i = 0; i < nmnts; i++) free(mnts[i].point);
  free(mnts);
  mnts = NULL;
  nmnts = 0;
  size_t lines = 0;
  for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
  mnts = calloc(lines + 1, sizeof *mnts);
  if (mnts == NULL) { free(buf); return; }
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    char *f[5], *s2 = NULL, *p = line;
    int k = 0;
    for (; k < 5 && (f[k] = strtok_r(p, " ", &s2)) != NULL; k++) p = NULL;
    if (k < 5) continue;
    char *dash = strstr(s2 != NULL ? s2 : "", " - ");
    char *rest = s2 != NULL && strncmp(s2, "- ", 2) == 0 ? s2 + 2 : dash != NULL ? dash + 3 : NULL;
    if (rest == NULL) continue;
    char *type = strtok_r(rest, " ", &s2);
    if (type == NULL) continue;
    strtok_r(NULL, " ", &s2);  // the source
    char *super = strtok_r(NULL, " ", &s2);
    char *point = strdup(f[4]);
    if (point == NULL) continue;
    size_t plen = unescape(point);
    int self = plen == vsf_config.mount_point_len && memcmp(point, vsf_config.mount_point, plen) == 0 && strncmp(type, "fuse", 4) == 0;
    if (self) { free(point); continue; }  // our own mount: walked in the backing store, whose mount is below it
    mnts[nmnts++] = (mnt_t) { point, plen, remote_type(type), strtoull(f[0], NULL, 10), fuse_user(type, super) };
  }
  free(buf);
  // A mount or unmount can change what a path names: every kept walk is dropped (the fast path below).
  atomic_fetch_add(&epoch, 1);
}

// The table, read the first time and whenever it changed since (the kernel flags it for poll); under mnt_mu.
static void mounts_fresh (void) {
  if (mountinfo_fd < 0) mountinfo_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  struct pollfd pfd = { mountinfo_fd, POLLPRI, 0 };
  if (mountinfo_fd >= 0 && (mnts == NULL || (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLPRI | POLLERR))))) mounts_load();
}

// The mounter of FUSE mount `id` (UINT32_MAX: not FUSE, or not found): the daemon's table, else the
// caller's (a mount namespace of its own; mount ids are unique across namespaces).
static uint32_t mount_fuse_user (uint32_t tid, uint64_t id) {
  uint32_t user = UINT32_MAX;
  int found = 0;
  pthread_mutex_lock(&mnt_mu);
  mounts_fresh();
  for (size_t i = 0; i < nmnts && !found; i++) if (mnts[i].id == id) { user = mnts[i].fuse_user; found = 1; }
  pthread_mutex_unlock(&mnt_mu);
  if (found) return user;
  char proc[64], *line = NULL;
  size_t cap = 0;
  snprintf(proc, sizeof proc, "/proc/%u/mountinfo", tid);
  FILE *f = fopen(proc, "re");
  if (f == NULL) return UINT32_MAX;
  while (getline(&line, &cap, f) > 0) {
    if (strtoull(line, NULL, 10) != id) continue;
    char *dash = strstr(line, " - "), *s2 = NULL;
    if (dash == NULL) break;
    line[strcspn(line, "\n")] = 0;
    char *type = strtok_r(dash + 3, " ", &s2);
    if (type != NULL && strtok_r(NULL, " ", &s2) != NULL) user = fuse_user(type, strtok_r(NULL, " ", &s2));
    break;
  }
  free(line);
  fclose(f);
  return user;
}

// Whether `prefix` names `path` or a directory above it.
static int above (const char *prefix, size_t plen, const char *path, size_t len) {
  return plen == 1 || (plen <= len && memcmp(prefix, path, plen) == 0 && (plen == len || path[plen] == '/'));
}

// Whether any mount a directory of `path` is on (those whose mount point is a prefix of it) is remote, or a
// remote mount sits where a walk looks for a project file (a mount point named like one, in a directory of
// the walk: stat'ing it asks that filesystem). 0 when neither, else the length of the nearest directory of
// the walk that may stall (`len` when the working directory itself may): those below it are local.
static size_t on_remote (const char *path, size_t len) {
  size_t remote = 0;
  pthread_mutex_lock(&mnt_mu);
  mounts_fresh();
  if (mnts == NULL) remote = len;  // unknown: be careful
  for (size_t i = 0; i < nmnts && remote < len; i++) {
    const mnt_t *m = &mnts[i];
    if (!m->remote) continue;
    if (above(m->point, m->len, path, len)) remote = len;
    const char *slash = memrchr(m->point, '/', m->len);
    if (slash != NULL && remote < len) {
      size_t parent = slash == m->point ? 1 : (size_t) (slash - m->point);
      char name[256];
      size_t nlen = m->len - (size_t) (slash - m->point) - 1;
      if (nlen < sizeof name && parent > remote && above(m->point, parent, path, len)) {
        memcpy(name, slash + 1, nlen);
        name[nlen] = 0;
        if (relevant_name(name)) remote = parent;
      }
    }
  }
  pthread_mutex_unlock(&mnt_mu);
  return remote;
}

// ---- which project files a directory holds: kept by the directory's identity and ctime ------------------

#define DIR_SETS 512
#define DIR_WAYS 4
typedef struct { uint64_t dev, ino; int64_t cs, cns; uint32_t mask, links; uint64_t used; } dirent_t;
static pthread_mutex_t dir_mu = PTHREAD_MUTEX_INITIALIZER;  // guards dirs and dir_clock; a leaf
static dirent_t dirs[DIR_SETS][DIR_WAYS];
static uint64_t dir_clock;

static int64_t now_ns (void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t) t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int settled (const struct statx_timestamp *t, int64_t now) {
  return (int64_t) t->tv_sec * 1000000000LL + t->tv_nsec < now - SETTLE_NS;
}

static int dir_get (const struct statx *st, uint32_t *mask, uint32_t *links) {
  dirent_t *set = dirs[(st->stx_ino ^ st->stx_dev_minor ^ ((uint64_t) st->stx_dev_major << 20)) % DIR_SETS];
  int hit = 0;
  pthread_mutex_lock(&dir_mu);
  for (int i = 0; i < DIR_WAYS; i++) {
    dirent_t *d = &set[i];
    if (d->used == 0 || d->ino != st->stx_ino || d->dev != makedev(st->stx_dev_major, st->stx_dev_minor)) continue;
    if (d->cs != st->stx_ctime.tv_sec || d->cns != st->stx_ctime.tv_nsec) continue;
    *mask = d->mask;
    *links = d->links;
    d->used = ++dir_clock;
    hit = 1;
    break;
  }
  pthread_mutex_unlock(&dir_mu);
  return hit;
}

static void dir_put (const struct statx *st, uint32_t mask, uint32_t links) {
  dirent_t *set = dirs[(st->stx_ino ^ st->stx_dev_minor ^ ((uint64_t) st->stx_dev_major << 20)) % DIR_SETS], *victim = &set[0];
  pthread_mutex_lock(&dir_mu);
  for (int i = 0; i < DIR_WAYS; i++) {
    if (set[i].used == 0) { victim = &set[i]; break; }
    if (set[i].used < victim->used) victim = &set[i];
  }
  *victim = (dirent_t) { makedev(st->stx_dev_major, st->stx_dev_minor), st->stx_ino, st->stx_ctime.tv_sec, st->stx_ctime.tv_nsec, mask, links, ++dir_clock };
  pthread_mutex_unlock(&dir_mu);
}

// ---- interned states -------------------------------------------------------------------------------------

#define STATE_SETS 256
#define STATE_WAYS 4
typedef struct { uint64_t hash; uint32_t id, len; char *blob; uint64_t used; } state_t;
static pthread_mutex_t state_mu = PTHREAD_MUTEX_INITIALIZER;  // guards states, state_clock, next_state; a leaf
static state_t states[STATE_SETS][STATE_WAYS];
static uint64_t state_clock;
static uint32_t next_state = VSF_PROJECT_EMPTY + 1;

static uint32_t intern (const char *blob, size_t len) {
  if (len == 0) return VSF_PROJECT_EMPTY;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char) blob[i]) * 1099511628211ull;
  state_t *set = states[h % STATE_SETS], *victim = &set[0];
  uint32_t id = 0;
  pthread_mutex_lock(&state_mu);
  for (int i = 0; i < STATE_WAYS; i++) {
    state_t *s = &set[i];
    if (s->blob != NULL && s->hash == h && s->len == len && memcmp(s->blob, blob, len) == 0) { s->used = ++state_clock; id = s->id; break; }
  }
  if (id == 0) {
    char *copy = malloc(len);
    for (int i = 0; copy != NULL && i < STATE_WAYS; i++) {
      if (set[i].blob == NULL) { victim = &set[i]; break; }
      if (set[i].used < victim->used) victim = &set[i];
    }
    // Ids are never reused (a memo entry keyed by an evicted state's id can never match again); at the
    // end of 32 bits, states stop being kept rather than wrap.
    if (copy != NULL && next_state < UINT32_MAX) {
      memcpy(copy, blob, len);
      free(victim->blob);
      id = next_state++;
      *victim = (state_t) { h, id, (uint32_t) len, copy, ++state_clock };
    } else free(copy);
  }
  pthread_mutex_unlock(&state_mu);
  return id;
}

// ---- one walk --------------------------------------------------------------------------------------------

typedef struct {
  uint16_t depth, name;   // directory (0: the working directory) and name index
  int32_t error;          // the caller's stat: 0 or errno
  uint64_t dev, ino;
  int64_t cs, cns, ms, mns, size;
  uint32_t mode, uid, gid;
  uint32_t relative;      // found from the caller's working directory ("../../name"): see walk_files
  uint32_t link;          // a symlink (outside the mount): the link and its target both had to be trusted
  uint32_t verdict;       // 0: counts for this caller (judge()); else why not (VSF_FILE_UNTRUSTED, _WRITABLE): never read
  uint32_t owner;         // not trusted: the uid that made it so (the link's or the file's owner)
} record_t;

typedef struct { uint64_t dev, ino, mnt; } ident_t;

// dir + "/" + name into buf; 0 when too long.
static int join (char *buf, const char *dir, size_t len, const char *name) {
  size_t n = strlen(name);
  if (len + 1 + n + 1 > PATH_MAX) return 0;
  memcpy(buf, dir, len);
  size_t k = len;
  if (k == 0 || buf[k - 1] != '/') buf[k++] = '/';
  memcpy(buf + k, name, n + 1);
  return 1;
}

static int sx (int dfd, const char *path, int flags, struct statx *st) {
  return syscall(SYS_statx, dfd, path, flags | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_MNT_ID, st) == 0 ? 0 : -errno;
}

// One request's walk, touched by the requesting thread alone, except while timed() has handed it to a walk
// thread. Then `mu` guards `done` (`cv` signals it) and what locate() writes, which that thread may write
// again (walk_dirs_settled) while the requesting thread, given up, copies it (give_up): cwd, cwd_len,
// cwd_fd, pin_id, root_len, ends, ndirs, local_dirs. `mu` is taken before mnt_mu (locate calls on_remote):
// docs/design.md, "Locks". Once `done` is seen under `mu`, p is the requesting thread's again.
struct vsf_project {
  _Atomic int refs;         // the requesting thread's and a walk thread's: the last release() frees
  vsf_request_t req;        // the caller (pid, uid, gid) for creds.c
  int act;                  // as the caller (a root daemon)
  int walked, status, remote, unsettled, links, inside;
  int fast;                 // answered by the fast path: no walk made (contents need one)
  int must_walk;            // contents are wanted: the fast path cannot give them
  int watched;              // every directory of the walk is watched (the fast path may keep it)
  int have_cwd;             // cwd: the working directory's identity when the request began
  ident_t cwd_id, root_id;  // ... and the root's (the fast path only)
  int cwd_fd;               // the working directory locate() named (O_PATH), pinned: -1 before; per request (see mu)
  ident_t pin_id;           // ... and its identity
  uint64_t generation;      // the caller's environment generation (its program image), 0 if not cached
  uint64_t epoch;           // the watch epoch the walk began in
  uint32_t state, ndirs, nrec, rec_cap, nwant;
  uint32_t local_dirs;      // the nearest directories of the walk, on local filesystems only (locate)
  uint32_t *want;           // (depth, name) pairs the walk of the directories found
  record_t *rec;
  size_t cwd_len;
  size_t root_len;          // the caller's root: the walk stops there (1: "/")
  char *block;              // for JS (vsf_project_contents)
  size_t block_len;
  // a walk on its own thread
  pthread_mutex_t mu;       // guards done, and what locate() writes while a walk thread runs (above)
  pthread_cond_t cv;
  int done;
  // Filled as the walk goes (not cleared: most requests never walk).
  char cwd[PATH_MAX];       // the working directory as the daemon names it
  uint32_t ends[PATH_MAX / 2 + 1];  // each directory of the walk: cwd[0..ends[d]]
};

#define RECORDS_MAX 65536         // project files on one walk (32 names x 2048 directories)
#define CONTENTS_MAX (16u << 20)  // bytes handed to JS for one walk

// Walks on threads of their own, per user: a user's hung filesystem holds that user's walks only. Past
// INFLIGHT_MAX running at once, that user's next ones are given up at once (other users' are not).
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

// ---- the fast path: a program image's walk, kept while nothing on it changes -------------------------------
//
// Every directory a local walk passes is watched (inotify) before it is looked at, for the events that can
// change what a walk sees: a project file created, removed, renamed, written, chmod'ed; a directory moved
// (which changes whose parent is whose), removed or chmod'ed; and the mount table is watched (poll). Any such
// event, or a lost one (queue overflow), starts a new epoch. A walk made in an epoch still current is the
// walk now, for the same program image (tid and environment generation: its root) in the same working
// directory (device, inode and mount, read through /proc on every request), once each project file it
// found is stat'ed again and unchanged (an edit through a hard link elsewhere, or through a shared mapping,
// makes no event here). Walks that touch a network filesystem, a symlinked project file, a directory inside
// our own mount, a file the caller could not stat, or a directory that could not be watched are never kept.

#define WATCHES_MAX 8192
#define FAST_SETS 1024
#define FAST_WAYS 4
typedef struct { char *path; uint64_t dev, ino; int64_t cs, cns, ms, mns, size; } kept_file_t;
typedef struct {
  uint32_t tid;
  uint64_t generation;
  uint32_t uid;            // the caller's fs uid: which files the walk trusted
  ident_t cwd, root;
  uint64_t epoch;
  uint32_t state, nfiles;
  kept_file_t *files;
  uint64_t used;
} fast_t;
// Guards the kept walks (fast, fast_clock) and the watches (inotify_fd, max_wd, watches). Must be acquired
// *before* mnt_mu (current_epoch polls the mount table under it): docs/design.md, "Locks".
static pthread_mutex_t fast_mu = PTHREAD_MUTEX_INITIALIZER;
static fast_t fast[FAST_SETS][FAST_WAYS];
static uint64_t fast_clock;
static int inotify_fd = -1;
static int max_wd;
static uint32_t watches;


// Reads pending events and the mount table's flag: the current epoch. Called with fast_mu held.
static uint64_t current_epoch (void) {
  // The flag is polled under mnt_mu: a poll clears it, and on_remote must never find it cleared before the
  // table it announced is loaded.
  pthread_mutex_lock(&mnt_mu);
  mounts_fresh();
  pthread_mutex_unlock(&mnt_mu);
  if (inotify_fd < 0) return atomic_load(&epoch);
  char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
  for (;;) {
    ssize_t n = read(inotify_fd, buf, sizeof buf);
    if (n <= 0) break;
    for (char *at = buf; at < buf + n; ) {
      struct inotify_event *ev = (struct inotify_event *) at;
      at += sizeof *ev + ev->len;
      // Children's events name them: only project files and directories matter.
      if (ev->len > 0 && !(ev->mask & IN_ISDIR) && !relevant_name(ev->name)) continue;
      if (ev->len > 0 && (ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE)) && !relevant_name(ev->name)) continue;
      atomic_fetch_add(&epoch, 1);
    }
  }
  return atomic_load(&epoch);
}

// Watches directory `dir`. -errno when it cannot be watched.
static int watch (const char *dir) {
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

// The caller's working directory's (or root's: `what`) identity, through /proc (never a request to our own mount).
static int identity_at (int dfd, const char *path, int flags, ident_t *id) {
  struct statx st;
  if (syscall(SYS_statx, dfd, path, flags | AT_STATX_DONT_SYNC, STATX_INO | STATX_MNT_ID, &st) != 0) return -1;
  id->dev = makedev(st.stx_dev_major, st.stx_dev_minor);
  id->ino = st.stx_ino;
  id->mnt = (st.stx_mask & STATX_MNT_ID) ? st.stx_mnt_id : 0;
  return 0;
}

static int proc_identity (uint32_t tid, const char *what, ident_t *id) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/%u/%s", tid, what);
  return identity_at(AT_FDCWD, proc, 0, id);
}

static int cwd_identity (uint32_t tid, ident_t *id) { return proc_identity(tid, "cwd", id); }

// An O_PATH fd's identity (cached attributes only: never a request to our own mount).
static int fd_identity (int fd, ident_t *id) { return identity_at(fd, "", AT_EMPTY_PATH, id); }

static int same_ident (const ident_t *a, const ident_t *b) { return a->dev == b->dev && a->ino == b->ino && a->mnt == b->mnt; }

static fast_t *fast_set (uint32_t tid, uint64_t generation, const ident_t *id) {
  uint64_t h = ((uint64_t) tid * 1099511628211ull) ^ generation ^ (id->ino * 31) ^ id->dev ^ (id->mnt << 7);  // (not the root: it rarely differs)
  return fast[h % FAST_SETS];
}

static void kept_free (fast_t *f) {
  for (uint32_t i = 0; i < f->nfiles; i++) free(f->files[i].path);
  free(f->files);
  f->files = NULL;
  f->nfiles = 0;
}

// Each kept file still the one the walk saw (as the daemon: identity only; permission changes change ctime).
static int kept_unchanged (const kept_file_t *files, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    struct statx st;
    const kept_file_t *k = &files[i];
    if (sx(AT_FDCWD, k->path, AT_SYMLINK_NOFOLLOW, &st) != 0 || st.stx_ino != k->ino || makedev(st.stx_dev_major, st.stx_dev_minor) != k->dev ||
        st.stx_ctime.tv_sec != k->cs || st.stx_ctime.tv_nsec != k->cns || st.stx_mtime.tv_sec != k->ms || st.stx_mtime.tv_nsec != k->mns || (int64_t) st.stx_size != k->size) return 0;
  }
  return 1;
}

static int fast_get (vsf_project_t *p) {
  if (cwd_identity(p->req.pid, &p->cwd_id) != 0) return 0;
  p->have_cwd = 1;
  // The root too: a process may chroot without exec'ing.
  if (p->generation == 0 || proc_identity(p->req.pid, "root", &p->root_id) != 0) return 0;
  int hit = 0;
  kept_file_t files[8];
  uint32_t nfiles = 0;
  pthread_mutex_lock(&fast_mu);
  uint64_t now = current_epoch();
  p->epoch = now;
  fast_t *set = fast_set(p->req.pid, p->generation, &p->cwd_id);
  for (int i = 0; i < FAST_WAYS; i++) {
    fast_t *f = &set[i];
    if (f->used == 0 || f->tid != p->req.pid || f->uid != p->req.uid || f->generation != p->generation || !same_ident(&f->cwd, &p->cwd_id) || !same_ident(&f->root, &p->root_id) || f->epoch != now) continue;
    // Checked outside the lock (kept_unchanged stats each file), so on a copy: once fast_mu is dropped,
    // another thread may replace this entry and free its paths.
    nfiles = f->nfiles;
    hit = nfiles <= 8;
    for (uint32_t k = 0; hit && k < nfiles; k++) { files[k] = f->files[k]; files[k].path = strdup(f->files[k].path); if (files[k].path == NULL) hit = 0; }
    if (hit) { p->state = f->state; f->used = ++fast_clock; }
    break;
  }
  pthread_mutex_unlock(&fast_mu);
  if (hit && !kept_unchanged(files, nfiles)) hit = 0;
  for (uint32_t k = 0; k < nfiles && k < 8; k++) free(files[k].path);
  if (hit) p->status = VSF_PROJECT_WALKED;
  return hit;
}

static void fast_put (vsf_project_t *p) {
  if (p->generation == 0 || !p->have_cwd || p->root_id.ino == 0 || !p->watched || p->links || p->inside || p->remote || p->state == 0 || p->status != VSF_PROJECT_WALKED || p->nrec > 8) return;
  kept_file_t *files = p->nrec > 0 ? calloc(p->nrec, sizeof *files) : NULL;
  if (p->nrec > 0 && files == NULL) return;
  uint32_t n = 0;
  for (uint32_t k = 0; k < p->nrec; k++) {
    const record_t *r = &p->rec[k];
    char full[PATH_MAX], *copy = NULL;
    // A file the caller could not stat, or found from its working directory only: not kept.
    if (r->error != 0 || r->relative || !join(full, p->cwd, p->ends[r->depth], vsf_config.project_names[r->name]) || (copy = strdup(full)) == NULL) {
      fast_t tmp = { .files = files, .nfiles = n };
      kept_free(&tmp);
      return;
    }
    files[n++] = (kept_file_t) { copy, r->dev, r->ino, r->cs, r->cns, r->ms, r->mns, r->size };
  }
  pthread_mutex_lock(&fast_mu);
  // Only if nothing happened since the walk began: its result is then the walk now.
  if (current_epoch() == p->epoch) {
    fast_t *set = fast_set(p->req.pid, p->generation, &p->cwd_id), *victim = NULL;
    for (int i = 0; i < FAST_WAYS && victim == NULL; i++) {
      fast_t *f = &set[i];
      if (f->used != 0 && f->tid == p->req.pid && f->generation == p->generation && same_ident(&f->cwd, &p->cwd_id) && same_ident(&f->root, &p->root_id)) victim = f;
    }
    for (int i = 0; i < FAST_WAYS && victim == NULL; i++) if (set[i].used == 0) victim = &set[i];
    if (victim == NULL) { victim = &set[0]; for (int i = 1; i < FAST_WAYS; i++) if (set[i].used < victim->used) victim = &set[i]; }
    kept_free(victim);
    *victim = (fast_t) { p->req.pid, p->generation, p->req.uid, p->cwd_id, p->root_id, p->epoch, p->state, n, files, ++fast_clock };
    files = NULL;
  }
  pthread_mutex_unlock(&fast_mu);
  if (files != NULL) { fast_t tmp = { .files = files, .nfiles = n }; kept_free(&tmp); }
}

// ---- the walk ------------------------------------------------------------------------------------------------

static int inside_mount (const char *dir, size_t len) {
  size_t m = vsf_config.mount_point_len;
  return m > 0 && len >= m && memcmp(dir, vsf_config.mount_point, m) == 0 && (len == m || dir[m] == '/' || m == 1);
}

// The backing-store path of a directory inside the mount ("." for its root).
static const char *backing (const char *dir, size_t len) {
  size_t m = vsf_config.mount_point_len;
  return len == m ? "." : dir + m + (m == 1 ? 0 : 1);
}

// Stats `name` beneath dfd (or an absolute path) through no symlink, a last one included (-ELOOP). -errno.
static int stat_beneath (int dfd, const char *name, struct statx *st) {
  struct open_how how = { .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
  long fd = syscall(SYS_openat2, dfd, name, &how, sizeof how);
  if (fd < 0) return -errno;
  int r = sx((int) fd, "", AT_EMPTY_PATH, st);
  close((int) fd);
  if (r == 0 && S_ISLNK(st->stx_mode)) r = -ELOOP;
  return r;
}

// Watches each subdirectory of `dir` that nested name `name` lies in, outermost first, up to the first absent
// one. -errno when one cannot be watched (a symlink: ENOTDIR).
static int watch_beneath (const char *dir, size_t len, const char *name) {
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

// The names directory `d` holds (any kind of entry), by the daemon's own sight.
static uint32_t names_in (vsf_project_t *p, uint32_t d, int64_t now, int *ok) {
  char dir[PATH_MAX], path[PATH_MAX];
  size_t len = p->ends[d];
  memcpy(dir, p->cwd, len);
  dir[len] = 0;
  struct statx st;
  int in = inside_mount(dir, len), dfd = AT_FDCWD;
  const char *base = dir;
  if (in) {
    p->inside = 1;
    dfd = vsf_safe_open(backing(dir, len), O_PATH | O_DIRECTORY, 0);
    if (dfd < 0) { *ok = 0; return 0; }
    base = "";
  } else if (p->watched && watch(dir) < 0) p->watched = 0;  // before it is looked at: any change after this is an event
  *ok = sx(dfd, base, in ? AT_EMPTY_PATH : 0, &st) == 0;
  uint32_t mask = 0, links = 0;
  if (*ok && d == 0) {
    // The path still names the working directory locate() pinned (not a namesake made after it was removed
    // or renamed, nor another directory in another mount namespace). Inside our mount the kernel's inode has
    // the backing file's number (use_ino) on another device; its cached attributes are enough (no request to
    // ourselves). Another thread's chdir since cannot fail this: the pinned directory is one the caller had.
    ident_t now_id = p->pin_id;
    if (p->cwd_fd < 0 || now_id.ino != st.stx_ino ||
        (!in && now_id.dev != makedev(st.stx_dev_major, st.stx_dev_minor))) *ok = 0;
    // Changed since the request began (another thread's chdir): right for this request, not to be kept.
    if (*ok && p->have_cwd && !same_ident(&now_id, &p->cwd_id)) p->watched = 0;
    if (!p->have_cwd) { p->cwd_id = now_id; p->have_cwd = *ok; }
  }
  int hit = *ok && dir_get(&st, &mask, &links);
  for (uint32_t i = 0; *ok && i < vsf_config.project_count; i++) {
    const char *name = vsf_config.project_names[i];
    if (hit && !nested(name)) continue;
    struct statx f;
    int r;
    if (nested(name)) {
      // Its subdirectories watched first (one absent: its creation is an event here); a symlinked one is not followed.
      if (!in && p->watched && watch_beneath(dir, len, name) < 0) p->watched = 0;
      r = in ? stat_beneath(dfd, name, &f) : join(path, dir, len, name) ? stat_beneath(AT_FDCWD, path, &f) : -ENAMETOOLONG;
      if (r == -ELOOP) r = -ENOENT;  // through a symlink: not there for us
    } else r = in ? sx(dfd, name, AT_SYMLINK_NOFOLLOW, &f) : join(path, dir, len, name) ? sx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, &f) : -ENAMETOOLONG;
    if (r == 0 || (r != -ENOENT && r != -ENOTDIR && r != -ENAMETOOLONG)) mask |= 1u << i;  // present, or cannot tell: look again as the caller
    if ((r == 0 && S_ISLNK(f.stx_mode)) || (r != 0 && r != -ENOENT && r != -ENOTDIR && r != -ENAMETOOLONG)) links |= 1u << i;
  }
  if (*ok && !hit && settled(&st.stx_ctime, now)) {
    uint32_t flat = 0;  // only the names directly in this directory: its ctime tells their changes
    for (uint32_t i = 0; i < vsf_config.project_count; i++) if (!nested(vsf_config.project_names[i])) flat |= 1u << i;
    dir_put(&st, mask & flat, links & flat);
  }
  // A symlinked project file may lead anywhere (a hung filesystem): it is stat'ed and read on a thread of
  // its own, and never kept (its target changes where no watch sees it).
  if (links & mask) p->links = 1;
  if (in) close(dfd);
  return mask;
}

static int add_want (vsf_project_t *p, uint32_t d, uint32_t i) {
  if (p->nwant >= RECORDS_MAX) return -1;
  if (p->nwant % 64 == 0) {
    uint32_t *w = realloc(p->want, sizeof(uint32_t) * 2 * (p->nwant + 64));
    if (w == NULL) return -1;
    p->want = w;
  }
  p->want[2 * p->nwant] = d;
  p->want[2 * p->nwant + 1] = i;
  p->nwant++;
  return 0;
}

// The directories: from the working directory up to the caller's root, which project file names each holds.
static void walk_dirs (vsf_project_t *p) {
  int64_t now = now_ns();
  for (uint32_t d = 0; d < p->ndirs; d++) {
    int ok;
    uint32_t mask = names_in(p, d, now, &ok);
    if (!ok && d == 0) { p->status = VSF_PROJECT_NO_CWD; p->state = VSF_PROJECT_EMPTY; return; }
    for (uint32_t i = 0; i < vsf_config.project_count; i++) {
      if ((mask & (1u << i)) && add_want(p, d, i) < 0) { p->status = VSF_PROJECT_FAILED; p->state = 0; return; }
    }
  }
  p->status = VSF_PROJECT_WALKED;
  if (p->nwant == 0) p->state = VSF_PROJECT_EMPTY;
}

// "../../name" from the caller's working directory for a file `depth` directories up: what the caller can
// reach from where it is even when it could not search a directory above (0 when too long).
static int relative (char *buf, uint32_t depth, const char *name) {
  size_t n = strlen(name);
  if ((size_t) depth * 3 + n + 1 > PATH_MAX) return 0;
  for (uint32_t k = 0; k < depth; k++) memcpy(buf + 3 * k, "../", 3);
  memcpy(buf + 3 * (size_t) depth, name, n + 1);
  return 1;
}

// The uid a project file (or its link) counts as owned by: stat's, unless it is on a FUSE filesystem another
// user mounted (a mount on the file itself is enough): that server says whatever owner it likes, uid 0
// included, so the file counts as its mounter's (the mount's user_id=).
static uint32_t owner_of (const vsf_project_t *p, const struct statx *st) {
  if (!(st->stx_mask & STATX_MNT_ID)) return st->stx_uid;
  uint32_t mounter = mount_fuse_user(p->req.pid, st->stx_mnt_id);
  return mounter == UINT32_MAX || mounter == 0 ? st->stx_uid : mounter;
}

// Whether a project file (or a symlinked one's link) in directory `d` of the walk counts for this caller
// (the rule of docs/security.md, after git's safe.directory and ssh's StrictModes): 0 when it does, else
// why not, with *owner. Anywhere under a --trust-dir, any file counts. Elsewhere only one owned by the
// caller (the request's fs uid) or root, and that no one else may write: never writable by others, nor by
// its group unless that is the caller's own group on the caller's own file (a user private group, umask
// 002). Another user who can write a directory above (/tmp) or the file would otherwise choose what the
// caller's links run.
static uint32_t judge (const vsf_project_t *p, uint32_t d, const struct statx *st, uint32_t *owner) {
  uint32_t uid = owner_of(p, st);
  *owner = uid;
  for (uint32_t i = 0; i < vsf_config.trust_count; i++) if (above(vsf_config.trust_dirs[i], vsf_config.trust_lens[i], p->cwd, p->ends[d])) return 0;
  if (uid != p->req.uid && uid != 0) return VSF_FILE_UNTRUSTED;
  if (S_ISLNK(st->stx_mode)) return 0;  // a link's mode means nothing
  if (st->stx_mode & S_IWOTH) return VSF_FILE_WRITABLE;
  if ((st->stx_mode & S_IWGRP) && !(uid == p->req.uid && st->stx_gid == p->req.gid)) return VSF_FILE_WRITABLE;
  return 0;
}

// Opens the caller's working directory or root (`what`, O_PATH) as the daemon; -1 if it cannot.
static int open_proc_dir (uint32_t tid, const char *what) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/%u/%s", tid, what);
  return open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

// Opens a project file outside the mount (`full`, as the daemon names it) the way the caller would: a
// symlink is followed inside the caller's root, never through a /proc magic link (/proc/self would be the
// daemon); with `resolve` RESOLVE_NO_SYMLINKS (a nested name), none at all. -errno.
static int open_in_root_how (vsf_project_t *p, int root_fd, const char *full, int flags, uint64_t resolve) {
  if (root_fd < 0) return -EACCES;
  const char *rel = full + (p->root_len > 1 ? p->root_len : 0);
  while (*rel == '/') rel++;
  struct open_how how = { .flags = (uint64_t) (flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve };
  long fd = syscall(SYS_openat2, root_fd, *rel ? rel : ".", &how, sizeof how);
  return fd < 0 ? -errno : (int) fd;
}


static int open_in_root (vsf_project_t *p, int root_fd, const char *full, int flags) {
  return open_in_root_how(p, root_fd, full, flags, 0);
}

// The files: each stat'ed as the caller sees it, then the state (0: not to be kept).
static void walk_files (vsf_project_t *p) {
  if (p->status != VSF_PROJECT_WALKED || p->nwant == 0) return;
  int64_t now = now_ns();
  p->rec = calloc(p->nwant, sizeof(record_t));
  if (p->rec == NULL) { p->status = VSF_PROJECT_FAILED; p->state = 0; return; }
  int cwd_fd = p->inside ? -1 : p->cwd_fd;  // the directory the walk named (locate), not the cwd now
  int root_fd = open_proc_dir(p->req.pid, "root");  // also for the directories above a mount point the cwd is under
  vsf_creds_t creds = { 0 };
  gid_t groups[VSF_GROUPS_MAX];
  int ngroups = 0;
  uint64_t caps = 0;
  if (p->act) {
    ngroups = vsf_become_caller_groups(&p->req, &creds, groups, VSF_GROUPS_MAX, &caps);
    if (ngroups < 0) { if (root_fd >= 0) close(root_fd); p->status = VSF_PROJECT_FAILED; p->state = 0; return; }
  }
  char path[PATH_MAX];
  for (uint32_t k = 0; k < p->nwant; k++) {
    uint32_t d = p->want[2 * k], i = p->want[2 * k + 1];
    record_t *r = &p->rec[p->nrec++];
    r->depth = (uint16_t) d;
    r->name = (uint16_t) i;
    size_t len = p->ends[d];
    memcpy(path, p->cwd, len);
    path[len] = 0;
    struct statx st;
    int e;
    if (inside_mount(path, len)) {
      char rel[PATH_MAX];
      const char *b = backing(path, len);
      e = strcmp(b, ".") == 0 ? (snprintf(rel, sizeof rel, "%s", vsf_config.project_names[i]), 0) : (size_t) snprintf(rel, sizeof rel, "%s/%s", b, vsf_config.project_names[i]) >= sizeof rel ? -ENAMETOOLONG : 0;
      int fd = e == 0 ? vsf_safe_open(rel, O_PATH | O_NOFOLLOW, 0) : e;
      e = fd < 0 ? fd : sx(fd, "", AT_EMPTY_PATH, &st);
      if (fd >= 0) close(fd);
    } else {
      char full[PATH_MAX];
      const int sub = nested(vsf_config.project_names[i]);
      int fd = join(full, path, len, vsf_config.project_names[i]) ? open_in_root_how(p, root_fd, full, O_PATH | O_NOFOLLOW, sub ? RESOLVE_NO_SYMLINKS : 0) : -ENAMETOOLONG;
      e = fd < 0 ? fd : sx(fd, "", AT_EMPTY_PATH, &st);
      if (e == 0 && sub && S_ISLNK(st.stx_mode)) e = -ELOOP;  // a nested name is never followed
      if (e == 0 && S_ISLNK(st.stx_mode)) {
        // A symlinked project file: the link must be trusted before it is followed, then its target.
        r->link = 1;
        r->verdict = judge(p, d, &st, &r->owner);
        if (r->verdict == 0) {
          close(fd);
          fd = open_in_root(p, root_fd, full, O_PATH);
          e = fd < 0 ? fd : sx(fd, "", AT_EMPTY_PATH, &st);
        }
      }
      if (fd >= 0) close(fd);
      // A directory above that the caller may not search hides nothing it can reach from where it is
      // (no symlink followed that way: it would be followed from the daemon's root).
      if (e == -EACCES && !sub && cwd_fd >= 0 && relative(full, d, vsf_config.project_names[i]) && sx(cwd_fd, full, AT_SYMLINK_NOFOLLOW, &st) == 0 && !S_ISLNK(st.stx_mode)) { e = 0; r->relative = 1; }
    }
    r->error = -e;
    if (e == 0) {
      r->dev = makedev(st.stx_dev_major, st.stx_dev_minor);
      r->ino = st.stx_ino;
      r->cs = st.stx_ctime.tv_sec; r->cns = st.stx_ctime.tv_nsec;
      r->ms = st.stx_mtime.tv_sec; r->mns = st.stx_mtime.tv_nsec;
      r->size = (int64_t) st.stx_size;
      r->mode = st.stx_mode; r->uid = st.stx_uid; r->gid = st.stx_gid;
      if (!settled(&st.stx_ctime, now)) p->unsettled = 1;
      // From the stat just made (no extra call): an untrusted link's verdict stands, else the file's.
      if (r->verdict == 0 && !S_ISLNK(st.stx_mode)) r->verdict = judge(p, d, &st, &r->owner);
    } else r->verdict = 0;  // absent or unreadable: nothing of it is read either way
  }
  if (p->act) vsf_restore_creds(&creds);
  if (root_fd >= 0) close(root_fd);
  // The state: who looks (a root daemon: the caller's ids, groups and a uid-0 caller's capabilities), then every record.
  size_t cap = sizeof(uint32_t) * (5 + VSF_GROUPS_MAX) + sizeof(record_t) * p->nrec, n = 0;
  char *blob = malloc(cap);
  if (blob == NULL) { p->state = 0; return; }
  if (p->act) {
    uint32_t who[5] = { p->req.uid, p->req.gid, (uint32_t) ngroups, (uint32_t) caps, (uint32_t) (caps >> 32) };
    memcpy(blob, who, sizeof who); n += sizeof who;
    for (int g = 0; g < ngroups; g++) { uint32_t v = groups[g]; memcpy(blob + n, &v, 4); n += 4; }
  }
  memcpy(blob + n, p->rec, sizeof(record_t) * p->nrec);
  n += sizeof(record_t) * p->nrec;
  p->state = p->unsettled ? 0 : intern(blob, n);
  free(blob);
}

static void walk_dirs_settled (vsf_project_t *p);

static void walk (vsf_project_t *p) {
  walk_dirs_settled(p);
  walk_files(p);
}

// Room for `more` bytes at the end of the block (grown as a file read turns out larger than the walk saw);
// 0 when it would pass CONTENTS_MAX.
static int room (vsf_project_t *p, size_t *cap, size_t n, size_t more) {
  if (n + more <= *cap) return 1;
  if (n + more > CONTENTS_MAX) return 0;
  size_t want = *cap * 2 > n + more ? *cap * 2 : n + more;
  if (want > CONTENTS_MAX) want = CONTENTS_MAX;
  char *b = realloc(p->block, want + 1);
  if (b == NULL) return 0;
  p->block = b;
  *cap = want;
  return 1;
}

// Opens record r's file for reading, as the caller: -errno. A symlinked one (outside the mount) only
// while its link is still trusted (-EPERM when it is not; *owner: the link's owner).
static int open_record (vsf_project_t *p, const record_t *r, int cwd_fd, int root_fd, uint32_t *owner) {
  const int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  const char *name = vsf_config.project_names[r->name];
  size_t dlen = p->ends[r->depth];
  char dir[PATH_MAX], full[PATH_MAX];
  memcpy(dir, p->cwd, dlen);
  dir[dlen] = 0;
  if (inside_mount(dir, dlen)) {
    const char *b = backing(dir, dlen);
    if ((size_t) (strcmp(b, ".") == 0 ? snprintf(full, sizeof full, "%s", name) : snprintf(full, sizeof full, "%s/%s", b, name)) >= sizeof full) return -ENAMETOOLONG;
    return vsf_safe_open(full, flags | O_NOFOLLOW, 0);
  }
  if (r->relative) {
    if (cwd_fd < 0 || !relative(full, r->depth, name)) return -EACCES;
    int fd = openat(cwd_fd, full, flags | O_NOFOLLOW);
    return fd < 0 ? -errno : fd;
  }
  if (!join(full, dir, dlen, name)) return -ENAMETOOLONG;
  if (!r->link) return open_in_root_how(p, root_fd, full, flags | O_NOFOLLOW, nested(name) ? RESOLVE_NO_SYMLINKS : 0);
  int lfd = open_in_root(p, root_fd, full, O_PATH | O_NOFOLLOW);
  struct statx st;
  int e = lfd < 0 ? lfd : sx(lfd, "", AT_EMPTY_PATH, &st);
  if (lfd >= 0) close(lfd);
  if (e < 0) return e;
  if (S_ISLNK(st.stx_mode) && judge(p, r->depth, &st, owner) != 0) return -EPERM;
  return open_in_root(p, root_fd, full, flags);
}

// Reads the walk's files for JS, as the caller: one vsf_project_record_t each (varsymfs.h), the
// directory's path, and the bytes. A file that is no longer what the walk saw (replaced by a rename, edited)
// is judged and read as it is now (never taken for absent), and the state is then not to be kept.
static void contents (vsf_project_t *p) {
  size_t cap = 0;
  for (uint32_t k = 0; k < p->nrec; k++) cap += sizeof(vsf_project_record_t) + 4 + p->ends[p->rec[k].depth] + (p->rec[k].verdict == 0 && p->rec[k].error == 0 && S_ISREG(p->rec[k].mode) && p->rec[k].size <= VSF_PROJECT_FILE_MAX ? (size_t) p->rec[k].size : 0);
  if (cap > CONTENTS_MAX) { p->status = VSF_PROJECT_FAILED; p->state = 0; return; }
  p->block = malloc(cap + 1);
  if (p->block == NULL) { p->status = VSF_PROJECT_FAILED; p->state = 0; return; }
  int cwd_fd = p->inside ? -1 : p->cwd_fd;  // the directory the walk named (locate), not the cwd now
  int root_fd = open_proc_dir(p->req.pid, "root");  // also for the directories above a mount point the cwd is under
  vsf_creds_t creds = { 0 };
  gid_t groups[VSF_GROUPS_MAX];
  uint64_t caps;
  uint32_t nrec = p->nrec;
  if (p->act && vsf_become_caller_groups(&p->req, &creds, groups, VSF_GROUPS_MAX, &caps) < 0) { p->state = 0; nrec = 0; }
  size_t n = 0;
  for (uint32_t k = 0; k < nrec; k++) {
    record_t *r = &p->rec[k];
    size_t dlen = p->ends[r->depth];
    vsf_project_record_t head = { r->depth, r->name, VSF_FILE_UNREADABLE, 0, (uint32_t) dlen };
    uint32_t len = 0;
    const size_t at = n + sizeof head + dlen + 4;  // where the bytes go
    if (!room(p, &cap, n, sizeof head + dlen + 4)) { p->state = 0; break; }
    if (r->verdict != 0) { head.status = r->verdict; head.owner = r->owner; }
    else if (r->error == 0 && !S_ISREG(r->mode)) head.status = VSF_FILE_NOT_REGULAR;
    else if (r->error == 0 && r->size > VSF_PROJECT_FILE_MAX) head.status = VSF_FILE_TOO_LARGE;
    else if (r->error == 0) {
      int fd = open_record(p, r, cwd_fd, root_fd, &head.owner);
      struct statx st;
      uint32_t verdict;
      if (fd == -EPERM && r->link) { head.status = VSF_FILE_UNTRUSTED; p->state = 0; }
      else if (fd >= 0 && sx(fd, "", AT_EMPTY_PATH, &st) == 0) {
        int same = st.stx_ino == r->ino && makedev(st.stx_dev_major, st.stx_dev_minor) == r->dev && st.stx_ctime.tv_sec == r->cs && st.stx_ctime.tv_nsec == r->cns && (int64_t) st.stx_size == r->size && S_ISREG(st.stx_mode);
        // Changed since the walk (a new file renamed into place, an edit): what was opened, judged by the
        // same rules; right for this request, not to be kept.
        if (!same) p->state = 0;
        if (!S_ISREG(st.stx_mode)) head.status = VSF_FILE_NOT_REGULAR;
        else if (st.stx_size > VSF_PROJECT_FILE_MAX) head.status = VSF_FILE_TOO_LARGE;
        else if ((verdict = judge(p, r->depth, &st, &head.owner)) != 0) head.status = verdict;
        else if (!room(p, &cap, at, (size_t) st.stx_size)) p->state = 0;
        else {
          while (len < (uint32_t) st.stx_size) {
            ssize_t got = pread(fd, p->block + at + len, (size_t) st.stx_size - len, len);
            if (got <= 0) break;
            len += (uint32_t) got;
          }
          head.status = len == (uint32_t) st.stx_size ? VSF_FILE_READ : VSF_FILE_UNREADABLE;
          if (head.status != VSF_FILE_READ) { len = 0; p->state = 0; }
        }
      } else if (fd != -EACCES) p->state = 0;  // gone since the walk: absent now, but not to be kept
      if (fd >= 0) close(fd);
    }
    memcpy(p->block + n, &head, sizeof head);
    memcpy(p->block + n + sizeof head, p->cwd, dlen);
    memcpy(p->block + n + sizeof head + dlen, &len, 4);
    n = at + len;
  }
  if (p->act) vsf_restore_creds(&creds);
  if (root_fd >= 0) close(root_fd);
  p->block_len = n;
}

static void release (vsf_project_t *p) {
  if (atomic_fetch_sub(&p->refs, 1) != 1) return;
  if (p->cwd_fd >= 0) close(p->cwd_fd);
  free(p->block);
  free(p->want);
  free(p->rec);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
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

// Runs fn(p) here, or on a thread of its own within the timeout when the walk touches a network or FUSE
// filesystem (or follows a symlinked project file). 0, or -ETIMEDOUT (p is then left to that thread, and
// must not be used by the caller).
static int timed (vsf_project_t *p, void (*fn) (vsf_project_t *)) {
  if (!p->remote && !p->links) { fn(p); return 0; }
  if (!inflight_take(p->req.uid)) return -ETIMEDOUT;
  job_t *j = malloc(sizeof *j);
  if (j == NULL) { inflight_put(p->req.uid); return -ENOMEM; }
  *j = (job_t) { p, fn };
  p->done = 0;
  atomic_fetch_add(&p->refs, 1);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t t;
  if (pthread_create(&t, &attr, run_job, j) != 0) { pthread_attr_destroy(&attr); atomic_fetch_sub(&p->refs, 1); free(j); inflight_put(p->req.uid); return -EAGAIN; }
  pthread_attr_destroy(&attr);
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
  return done ? 0 : -ETIMEDOUT;
}

// ---- the interface (internal.h) ----------------------------------------------------------------------------

vsf_project_t *vsf_project_new (const vsf_request_t *r) {
  if (!vsf_config.project_count) return NULL;
  vsf_project_t *p = malloc(sizeof *p);
  if (p == NULL) return NULL;
  memset(p, 0, offsetof(vsf_project_t, cwd));
  atomic_init(&p->refs, 1);
  p->cwd_fd = -1;
  p->req.pid = r->pid; p->req.uid = r->uid; p->req.gid = r->gid;
  // A root daemon reads project files as the caller, whoever it is (a uid-0 caller with its own capabilities).
  p->act = vsf_config.root_daemon;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  return p;
}

void vsf_project_free (vsf_project_t *p) { if (p != NULL) release(p); }

void vsf_project_skip (vsf_project_t *p) {
  if (p == NULL) return;
  p->walked = 1;
  p->status = VSF_PROJECT_OFF;
  p->state = VSF_PROJECT_EMPTY;
}

// The working directory and root, and the list of directories to walk. 0, or a status.
static int locate (vsf_project_t *p) {
  char proc[64], root[PATH_MAX];
  // Pinned first, then named through the pin: the name and the directory are the same one even while
  // another thread of the caller's process calls chdir (the walk checks the name still leads to it).
  if (p->cwd_fd >= 0) close(p->cwd_fd);
  p->cwd_fd = open_proc_dir(p->req.pid, "cwd");
  if (p->cwd_fd < 0 || fd_identity(p->cwd_fd, &p->pin_id) != 0) return VSF_PROJECT_NO_CWD;
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", p->cwd_fd);
  ssize_t n = readlink(proc, p->cwd, sizeof p->cwd - 1);
  if (n <= 0 || p->cwd[0] != '/') return VSF_PROJECT_NO_CWD;
  p->cwd[n] = 0;
  p->cwd_len = (size_t) n;
  snprintf(proc, sizeof proc, "/proc/%u/root", p->req.pid);
  ssize_t m = readlink(proc, root, sizeof root - 1);
  if (m <= 0 || root[0] != '/') return VSF_PROJECT_NO_CWD;
  // Not above the caller's root (a chroot or container): the walk stays where the caller can see.
  p->root_len = (size_t) m;
  if (m > 1 && !((size_t) m <= p->cwd_len && memcmp(root, p->cwd, (size_t) m) == 0 && (p->cwd_len == (size_t) m || p->cwd[m] == '/'))) return VSF_PROJECT_NO_CWD;
  // A chrooted caller's walk is never kept: its root is read on every walk only.
  if (m > 1) p->watched = 0;
  size_t end = p->cwd_len;
  while (end > 1 && p->cwd[end - 1] == '/') end--;
  for (;;) {
    p->ends[p->ndirs++] = (uint32_t) end;
    if (end <= p->root_len || end == 1) break;
    while (end > 1 && p->cwd[end - 1] != '/') end--;
    while (end > 1 && p->cwd[end - 1] == '/') end--;
    if (end < p->root_len) end = p->root_len;
  }
  size_t risky = on_remote(p->cwd, p->cwd_len);
  p->remote = risky > 0;
  // The directories below the nearest one that may stall: a walk given up still has theirs (give_up).
  p->local_dirs = 0;
  while (p->local_dirs < p->ndirs && p->ends[p->local_dirs] > risky) p->local_dirs++;
  return 0;
}

// Given up on (a timeout): the thread keeps its own reference. With `partial`, this request goes on with
// the files of the directories below the nearest one that may stall (local: walked here, now), marked
// partial and never kept: an attacker's hung mount above never discards the caller's own nearer pin.
// Otherwise, or when there are none, without project files.
static uint32_t give_up (vsf_project_t **pp, int partial) {
  vsf_project_t *p = *pp;
  COUNT(VSF_C_PROJECT_TIMEOUTS);
  vsf_project_t *q = vsf_project_new(&p->req);
  uint32_t local = 0;
  if (partial && q != NULL) {
    // Set by locate, which the thread may run again (walk_dirs_settled): read and copied under p->mu.
    pthread_mutex_lock(&p->mu);
    local = p->local_dirs;
    if (local > 0) {
      memcpy(q->cwd, p->cwd, p->cwd_len + 1);
      q->cwd_fd = p->cwd_fd >= 0 ? fcntl(p->cwd_fd, F_DUPFD_CLOEXEC, 0) : -1;
      q->pin_id = p->pin_id;
      q->cwd_len = p->cwd_len;
      q->root_len = p->root_len;
      memcpy(q->ends, p->ends, local * sizeof q->ends[0]);
      q->ndirs = local;
      q->local_dirs = local;
    }
    pthread_mutex_unlock(&p->mu);
  }
  release(p);
  *pp = q;
  if (q == NULL) return 0;
  q->walked = 1;
  q->status = VSF_PROJECT_TIMED_OUT;
  q->state = 0;
  if (local == 0) return 0;
  walk_dirs(q);
  // Symlinked project files are followed on a thread of their own (they may lead to a hung filesystem).
  if (q->status == VSF_PROJECT_WALKED && timed(q, walk_files) < 0) return give_up(pp, 0);
  if (q->status == VSF_PROJECT_WALKED) q->status = VSF_PROJECT_PARTIAL;
  q->state = 0;
  return 0;
}

// The directories, walked again (a few times) when the working directory moved under the walk: another
// thread of the caller's process called chdir between the daemon's reading its cwd and stat'ing it. The
// answer is then the one for a working directory the caller had during the request, never "none"; not kept.
static void walk_dirs_settled (vsf_project_t *p) {
  for (int tries = 0; ; tries++) {
    walk_dirs(p);
    if (p->status != VSF_PROJECT_NO_CWD || tries == 8) return;
    int remote = p->remote;
    pthread_mutex_lock(&p->mu);  // give_up may be copying what locate writes
    p->watched = 0;
    p->ndirs = 0;
    p->nwant = 0;
    p->inside = 0;
    p->links = 0;
    int s = locate(p);
    pthread_mutex_unlock(&p->mu);
    // A cwd now on a remote filesystem is not walked here (its walk runs on a thread of its own).
    if (s != 0 || p->remote != remote) { p->status = s != 0 ? s : VSF_PROJECT_NO_CWD; p->state = VSF_PROJECT_EMPTY; return; }
  }
}

// The caller's project state (VSF_PROJECT_EMPTY: none of its directories holds a project file; 0: not to
// be kept), walking once per request. *p may be NULL (the scope is off).
uint32_t vsf_project_state (vsf_project_t **pp, uint64_t generation) {
  vsf_project_t *p = *pp;
  if (p == NULL) return 0;
  if (p->walked) return p->state;
  p->walked = 1;
  p->generation = generation;
  if (!p->must_walk && fast_get(p)) { p->fast = 1; return p->state; }
  COUNT(VSF_C_PROJECT_WALKS);
  p->watched = 1;
  int s = locate(p);
  if (s != 0) { p->status = s; p->state = VSF_PROJECT_EMPTY; return p->state; }
  if (p->remote ? timed(p, walk) < 0 : (walk_dirs_settled(p), 0)) return give_up(pp, 1);
  // Symlinked project files are followed on a thread of their own (they may lead to a hung filesystem).
  if (!p->remote && timed(p, walk_files) < 0) return give_up(pp, 0);
  fast_put(p);
  return p->state;
}

// The project files' bytes for JS (after vsf_project_state): the block is the caller's to free.
int vsf_project_contents (vsf_project_t **pp, char **block, size_t *len, uint32_t *state) {
  vsf_project_t *p = *pp;
  *block = NULL; *len = 0; *state = 0;
  if (p == NULL) return VSF_PROJECT_OFF;
  vsf_project_state(pp, 0);
  p = *pp;
  if (p != NULL && p->fast) {
    // The fast path knew the state but not the files: walk now (the state it finds is the one to key by).
    p->walked = 0;
    p->fast = 0;
    p->must_walk = 1;
    uint64_t g = p->generation;
    vsf_project_state(pp, g);
    p = *pp;
  }
  if (p == NULL) return VSF_PROJECT_FAILED;
  if ((p->status == VSF_PROJECT_WALKED || p->status == VSF_PROJECT_PARTIAL) && p->nrec > 0) {
    if (timed(p, contents) < 0) {
      give_up(pp, 0);
      return VSF_PROJECT_TIMED_OUT;
    }
    *block = p->block; *len = p->block_len;
    p->block = NULL;
  }
  *state = p->state;
  return p->status;
}
