// The walk: which project files a caller's working directory sees, from the directory it pinned up to its
// root, and the state that says what was seen.
//
// Exact and fresh. A resolution that needs the project scope walks every time (unless the fast path,
// fast.c, proves nothing changed): it pins the caller's working directory (/proc/<tid>/cwd), stats each
// directory up to the caller's root, and stats each project file present, as the caller. What it saw is a
// *state*: for each file, its place on the walk, its identity (device, inode, ctime, mtime, size, mode,
// owner) or the error the caller got, and in a root daemon serving others the caller's ids and groups.
// Equal states are interned under one number (states.c), and the memo keys project-dependent answers by
// that number. A file edited, created, removed, renamed or chmod'ed changes its state; a directory on the
// walk that gains or loses a project file changes its ctime, which invalidates the only thing kept between
// walks (which names a directory holds: dirs.c). Timestamps are trusted only once settled: a ctime within
// SETTLE_NS of now could be shared with a change still to come (coarse clocks), so such a state is not
// interned and its answer is not kept (git's "racily clean").
//
// Safe. Files are stat'ed as the caller (creds.c, in a root daemon serving others); one it cannot stat
// counts as absent. A working directory inside our own mount is walked in the backing store, with openat2
// never following a symlink there; a project file that is a symlink in the store counts as absent. Outside
// the mount, a symlinked project file is followed as the caller would, but a name in a subdirectory (mise's
// `.config/mise.toml`) is opened through no symlink at all (nested()). Whether a file counts: trust.c.
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define SETTLE_NS 50000000LL     // 50 ms: several jiffies of a coarse clock

// A name in a subdirectory (mise's `.config/mise.toml`): opened beneath its directory, never through a
// symlink (RESOLVE_NO_SYMLINKS: neither in its middle nor at its end), and looked at on every walk (a change
// in the subdirectory leaves the directory's ctime alone: not kept in dirs.c).
int nested (const char *name) { return strchr(name, '/') != NULL; }

// Whether `name` (one directory entry) is a project file's name or a subdirectory one lies in.
int relevant_name (const char *name) {
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

static int64_t now_ns (void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t) t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int settled (const struct statx_timestamp *t, int64_t now) {
  return (int64_t) t->tv_sec * 1000000000LL + t->tv_nsec < now - SETTLE_NS;
}

// ---- locating: the working directory, pinned, and the directories up to the root ---------------------------

// The directories of the walk: from the working directory up to the caller's root (p->ends, p->ndirs).
static void list_dirs (vsf_project_t *p) {
  size_t end = p->cwd_len;
  while (end > 1 && p->cwd[end - 1] == '/') end--;
  for (;;) {
    p->ends[p->ndirs++] = (uint32_t) end;
    if (end <= p->root_len || end == 1) break;
    while (end > 1 && p->cwd[end - 1] != '/') end--;
    while (end > 1 && p->cwd[end - 1] == '/') end--;
    if (end < p->root_len) end = p->root_len;
  }
}

// The working directory and root, and the list of directories to walk. 0, or a status.
int locate (vsf_project_t *p) {
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
  list_dirs(p);
  size_t risky = on_remote(p->cwd, p->cwd_len);
  p->remote = risky > 0;
  // The directories below the nearest one that may stall: a walk given up still has theirs (give_up).
  p->local_dirs = 0;
  while (p->local_dirs < p->ndirs && p->ends[p->local_dirs] > risky) p->local_dirs++;
  return 0;
}

// ---- the directories: which project file names each holds, by the daemon's own sight -----------------------

// One directory of the walk as the daemon looks at it: its path, and inside our mount its backing-store fd.
typedef struct {
  char dir[PATH_MAX];
  size_t len;
  int in;                 // inside our own mount
  int dfd;                // in: the directory in the backing store; else AT_FDCWD
} look_t;

// The path still names the working directory locate() pinned (not a namesake made after it was removed
// or renamed, nor another directory in another mount namespace): whether it does.
static int pinned (vsf_project_t *p, const struct statx *st, int in) {
  int ok = 1;
  // Inside our mount the kernel's inode has the backing file's number (use_ino) on another device; its
  // cached attributes are enough (no request to ourselves). Another thread's chdir since cannot fail this:
  // the pinned directory is one the caller had.
  ident_t now_id = p->pin_id;
  if (p->cwd_fd < 0 || now_id.ino != st->stx_ino ||
      (!in && now_id.dev != makedev(st->stx_dev_major, st->stx_dev_minor))) ok = 0;
  // Changed since the request began (another thread's chdir): right for this request, not to be kept.
  if (ok && p->have_cwd && !same_ident(&now_id, &p->cwd_id)) p->watched = 0;
  if (!p->have_cwd) { p->cwd_id = now_id; p->have_cwd = ok; }
  return ok;
}

// Stats project file name i in the directory: 0, or -errno (through a symlink, a nested name is absent).
static int stat_name (vsf_project_t *p, const look_t *at, uint32_t i, struct statx *f) {
  const char *name = vsf_config.project_names[i];
  char path[PATH_MAX];
  if (!nested(name)) return at->in ? sx(at->dfd, name, AT_SYMLINK_NOFOLLOW, f) : join(path, at->dir, at->len, name) ? sx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, f) : -ENAMETOOLONG;
  // Its subdirectories watched first (one absent: its creation is an event here); a symlinked one is not followed.
  if (!at->in && p->watched && watch_beneath(at->dir, at->len, name) < 0) p->watched = 0;
  int r = at->in ? stat_beneath(at->dfd, name, f) : join(path, at->dir, at->len, name) ? stat_beneath(AT_FDCWD, path, f) : -ENAMETOOLONG;
  return r == -ELOOP ? -ENOENT : r;  // through a symlink: not there for us
}

// The names the directory holds (*mask), and those that are symlinks or could not be told (*links); `hit`:
// the flat names are known already (dirs.c), only nested ones are looked at.
static void look_names (vsf_project_t *p, const look_t *at, int hit, uint32_t *mask, uint32_t *links) {
  for (uint32_t i = 0; i < vsf_config.project_count; i++) {
    if (hit && !nested(vsf_config.project_names[i])) continue;
    struct statx f;
    int r = stat_name(p, at, i, &f);
    if (r == 0 || (r != -ENOENT && r != -ENOTDIR && r != -ENAMETOOLONG)) *mask |= 1u << i;  // present, or cannot tell: look again as the caller
    if ((r == 0 && S_ISLNK(f.stx_mode)) || (r != 0 && r != -ENOENT && r != -ENOTDIR && r != -ENAMETOOLONG)) *links |= 1u << i;
  }
}

// Keeps what the directory holds (dirs.c): only the names directly in it, whose changes its ctime tells.
static void keep_names (const struct statx *st, uint32_t mask, uint32_t links) {
  uint32_t flat = 0;
  for (uint32_t i = 0; i < vsf_config.project_count; i++) if (!nested(vsf_config.project_names[i])) flat |= 1u << i;
  dir_put(st, mask & flat, links & flat);
}

// The names directory `d` holds (any kind of entry), by the daemon's own sight.
static uint32_t names_in (vsf_project_t *p, uint32_t d, int64_t now, int *ok) {
  look_t at;  // (not zeroed: its path is filled now)
  at.len = p->ends[d];
  at.dfd = AT_FDCWD;
  memcpy(at.dir, p->cwd, at.len);
  at.dir[at.len] = 0;
  struct statx st;
  at.in = inside_mount(at.dir, at.len);
  if (at.in) {
    p->inside = 1;
    at.dfd = vsf_safe_open(backing(at.dir, at.len), O_PATH | O_DIRECTORY, 0);
    if (at.dfd < 0) { *ok = 0; return 0; }
  } else if (p->watched && watch(at.dir) < 0) p->watched = 0;  // before it is looked at: any change after this is an event
  *ok = sx(at.dfd, at.in ? "" : at.dir, at.in ? AT_EMPTY_PATH : 0, &st) == 0;
  uint32_t mask = 0, links = 0;
  if (*ok && d == 0) *ok = pinned(p, &st, at.in);
  int hit = *ok && dir_get(&st, &mask, &links);
  if (*ok) look_names(p, &at, hit, &mask, &links);
  if (*ok && !hit && settled(&st.stx_ctime, now)) keep_names(&st, mask, links);
  // A symlinked project file may lead anywhere (a hung filesystem): it is stat'ed and read on a thread of
  // its own, and never kept (its target changes where no watch sees it).
  if (links & mask) p->links = 1;
  if (at.in) close(at.dfd);
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
void walk_dirs (vsf_project_t *p) {
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

// The directories, walked again (a few times) when the working directory moved under the walk: another
// thread of the caller's process called chdir between the daemon's reading its cwd and stat'ing it. The
// answer is then the one for a working directory the caller had during the request, never "none"; not kept.
void walk_dirs_settled (vsf_project_t *p) {
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

// ---- the files: each stat'ed as the caller sees it, then the state ------------------------------------------

// What stat'ing the files as the caller needs (walk_files).
typedef struct {
  int cwd_fd;             // the directory the walk named (locate), not the cwd now; -1 inside the mount
  int root_fd;            // the caller's root: also for the directories above a mount point the cwd is under
  int ngroups;            // a root daemon: the caller's groups and (uid 0) capabilities, for the state
  gid_t groups[VSF_GROUPS_MAX];
  uint64_t caps;
} as_caller_t;

// Stats file `name` of directory `path` inside our mount, in the backing store (no symlink followed). -errno.
static int stat_inside (const char *path, size_t len, const char *name, struct statx *st) {
  char rel[PATH_MAX];
  const char *b = backing(path, len);
  int e = strcmp(b, ".") == 0 ? (snprintf(rel, sizeof rel, "%s", name), 0) : (size_t) snprintf(rel, sizeof rel, "%s/%s", b, name) >= sizeof rel ? -ENAMETOOLONG : 0;
  int fd = e == 0 ? vsf_safe_open(rel, O_PATH | O_NOFOLLOW, 0) : e;
  e = fd < 0 ? fd : sx(fd, "", AT_EMPTY_PATH, st);
  if (fd >= 0) close(fd);
  return e;
}

// Stats record r's file outside the mount, as the caller would reach it (in directory `path` of the walk).
// -errno.
static int stat_outside (vsf_project_t *p, const as_caller_t *c, record_t *r, const char *path, struct statx *st) {
  char full[PATH_MAX];
  const uint32_t d = r->depth, i = r->name, len = p->ends[d];
  const int sub = nested(vsf_config.project_names[i]);
  int fd = join(full, path, len, vsf_config.project_names[i]) ? open_in_root_how(p, c->root_fd, full, O_PATH | O_NOFOLLOW, sub ? RESOLVE_NO_SYMLINKS : 0) : -ENAMETOOLONG;
  int e = fd < 0 ? fd : sx(fd, "", AT_EMPTY_PATH, st);
  if (e == 0 && sub && S_ISLNK(st->stx_mode)) e = -ELOOP;  // a nested name is never followed
  if (e == 0 && S_ISLNK(st->stx_mode)) {
    // A symlinked project file: the link must be trusted before it is followed, then its target.
    r->link = 1;
    r->verdict = judge(p, d, st, &r->owner);
    if (r->verdict == 0) {
      close(fd);
      fd = open_in_root(p, c->root_fd, full, O_PATH);
      e = fd < 0 ? fd : sx(fd, "", AT_EMPTY_PATH, st);
    }
  }
  if (fd >= 0) close(fd);
  // A directory above that the caller may not search hides nothing it can reach from where it is
  // (no symlink followed that way: it would be followed from the daemon's root).
  if (e == -EACCES && !sub && c->cwd_fd >= 0 && relative(full, d, vsf_config.project_names[i]) && sx(c->cwd_fd, full, AT_SYMLINK_NOFOLLOW, st) == 0 && !S_ISLNK(st->stx_mode)) { e = 0; r->relative = 1; }
  return e;
}

// Record k: file `i` of directory `d` as the caller sees it.
static void walk_file (vsf_project_t *p, const as_caller_t *c, uint32_t k, int64_t now) {
  uint32_t d = p->want[2 * k], i = p->want[2 * k + 1];
  record_t *r = &p->rec[p->nrec++];
  r->depth = (uint16_t) d;
  r->name = (uint16_t) i;
  char path[PATH_MAX];
  size_t len = p->ends[d];
  memcpy(path, p->cwd, len);
  path[len] = 0;
  struct statx st;
  int e = inside_mount(path, len) ? stat_inside(path, len, vsf_config.project_names[i], &st) : stat_outside(p, c, r, path, &st);
  r->error = -e;
  if (e != 0) { r->verdict = 0; return; }  // absent or unreadable: nothing of it is read either way
  r->dev = makedev(st.stx_dev_major, st.stx_dev_minor);
  r->ino = st.stx_ino;
  r->cs = st.stx_ctime.tv_sec; r->cns = st.stx_ctime.tv_nsec;
  r->ms = st.stx_mtime.tv_sec; r->mns = st.stx_mtime.tv_nsec;
  r->size = (int64_t) st.stx_size;
  r->mode = st.stx_mode; r->uid = st.stx_uid; r->gid = st.stx_gid;
  if (!settled(&st.stx_ctime, now)) p->unsettled = 1;
  // From the stat just made (no extra call): an untrusted link's verdict stands, else the file's.
  if (r->verdict == 0 && !S_ISLNK(st.stx_mode)) r->verdict = judge(p, d, &st, &r->owner);
}

// The state: who looks (a root daemon: the caller's ids, groups and a uid-0 caller's capabilities), then
// every record; interned (0: not to be kept).
static void state_of (vsf_project_t *p, const as_caller_t *c) {
  size_t cap = sizeof(uint32_t) * (5 + VSF_GROUPS_MAX) + sizeof(record_t) * p->nrec, n = 0;
  char *blob = malloc(cap);
  if (blob == NULL) { p->state = 0; return; }
  if (p->act) {
    uint32_t who[5] = { p->req.uid, p->req.gid, (uint32_t) c->ngroups, (uint32_t) c->caps, (uint32_t) (c->caps >> 32) };
    memcpy(blob, who, sizeof who); n += sizeof who;
    for (int g = 0; g < c->ngroups; g++) { uint32_t v = c->groups[g]; memcpy(blob + n, &v, 4); n += 4; }
  }
  memcpy(blob + n, p->rec, sizeof(record_t) * p->nrec);
  n += sizeof(record_t) * p->nrec;
  p->state = p->unsettled ? 0 : intern(blob, n);
  free(blob);
}

// The files: each stat'ed as the caller sees it, then the state (0: not to be kept).
void walk_files (vsf_project_t *p) {
  if (p->status != VSF_PROJECT_WALKED || p->nwant == 0) return;
  int64_t now = now_ns();
  p->rec = calloc(p->nwant, sizeof(record_t));
  if (p->rec == NULL) { p->status = VSF_PROJECT_FAILED; p->state = 0; return; }
  as_caller_t c = { .cwd_fd = p->inside ? -1 : p->cwd_fd, .root_fd = open_proc_dir(p->req.pid, "root") };
  vsf_creds_t creds = { 0 };
  if (p->act) {
    c.ngroups = vsf_become_caller_groups(&p->req, &creds, c.groups, VSF_GROUPS_MAX, &c.caps);
    if (c.ngroups < 0) { if (c.root_fd >= 0) close(c.root_fd); p->status = VSF_PROJECT_FAILED; p->state = 0; return; }
  }
  for (uint32_t k = 0; k < p->nwant; k++) walk_file(p, &c, k, now);
  if (p->act) vsf_restore_creds(&creds);
  if (c.root_fd >= 0) close(c.root_fd);
  state_of(p, &c);
}

void walk (vsf_project_t *p) {
  walk_dirs_settled(p);
  walk_files(p);
}
