// The fast path: a program image's walk, kept while nothing on it changes. A walk made in an epoch still
// current (watch.c) is the walk now, for the same program image (tid and environment generation: its root)
// in the same working directory (device, inode and mount, read through /proc on every request), once each
// project file it found is stat'ed again and unchanged (an edit through a hard link elsewhere, or through a
// shared mapping, makes no event here). Walks that touch a network filesystem, a symlinked project file, a
// directory inside our own mount, a file the caller could not stat, or a directory that could not be
// watched are never kept.
#include "internal.h"
#include "../setcache.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#define FAST_SETS 1024
#define FAST_WAYS 4
#define KEPT_FILES_MAX 8  // project files of one kept walk
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
pthread_mutex_t fast_mu = PTHREAD_MUTEX_INITIALIZER;  // see internal.h
static fast_t fast[FAST_SETS][FAST_WAYS];
static vsf_setcache_t cache = { sizeof(fast_t), offsetof(fast_t, used), FAST_SETS, FAST_WAYS, NULL, 0 };

static fast_t *fast_set (uint32_t tid, uint64_t generation, const ident_t *id) {
  uint64_t h = ((uint64_t) tid * 1099511628211ull) ^ generation ^ (id->ino * 31) ^ id->dev ^ (id->mnt << 7);  // (not the root: it rarely differs)
  return vsf_set_of(&cache, fast, h);
}

// The walk of this image in this working directory and root (whatever its epoch and uid): where a new
// one replaces it.
static int holds_image (const void *way, const void *key) {
  const fast_t *f = way;
  const vsf_project_t *p = key;
  return f->tid == p->req.pid && f->generation == p->generation && same_ident(&f->cwd, &p->cwd_id) && same_ident(&f->root, &p->root_id);
}

// ... kept for this caller's uid in the current epoch (p->epoch): one that may answer.
static int holds_walk (const void *way, const void *key) {
  const fast_t *f = way;
  const vsf_project_t *p = key;
  return holds_image(way, key) && f->uid == p->req.uid && f->epoch == p->epoch;
}

static void kept_free (kept_file_t *files, uint32_t n) {
  if (files == NULL) return;
  for (uint32_t i = 0; i < n; i++) free(files[i].path);
  free(files);
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

// The kept walk for p (under fast_mu): 1 with its state in p and its files copied to `files` (*nfiles of
// them), else 0.
static int fast_find (vsf_project_t *p, kept_file_t *files, uint32_t *nfiles) {
  fast_t *f = vsf_set_find(&cache, fast_set(p->req.pid, p->generation, &p->cwd_id), holds_walk, p);
  if (f == NULL) return 0;
  // Checked outside the lock (kept_unchanged stats each file), so on a copy: once fast_mu is dropped,
  // another thread may replace this entry and free its paths.
  *nfiles = f->nfiles;
  int hit = f->nfiles <= KEPT_FILES_MAX;
  for (uint32_t k = 0; hit && k < f->nfiles; k++) { files[k] = f->files[k]; files[k].path = strdup(f->files[k].path); if (files[k].path == NULL) hit = 0; }
  if (hit) { p->state = f->state; vsf_set_touch(&cache, f); }
  return hit;
}

int fast_get (vsf_project_t *p) {
  if (cwd_identity(p->req.pid, &p->cwd_id) != 0) return 0;
  p->have_cwd = 1;
  // The root too: a process may chroot without exec'ing.
  if (p->generation == 0 || proc_identity(p->req.pid, "root", &p->root_id) != 0) return 0;
  kept_file_t files[KEPT_FILES_MAX] = { 0 };
  uint32_t nfiles = 0;
  pthread_mutex_lock(&fast_mu);
  p->epoch = current_epoch();
  int hit = fast_find(p, files, &nfiles);
  pthread_mutex_unlock(&fast_mu);
  if (hit && !kept_unchanged(files, nfiles)) hit = 0;
  for (uint32_t k = 0; k < nfiles && k < KEPT_FILES_MAX; k++) free(files[k].path);
  if (hit) p->status = VSF_PROJECT_WALKED;
  return hit;
}

// The files of p's walk, as the fast path keeps them (malloc'd, *n of them); NULL with *n 0 when the walk
// has one that cannot be kept (a file the caller could not stat, or found from its working directory only).
static kept_file_t *kept_files (const vsf_project_t *p, uint32_t *n) {
  *n = 0;
  kept_file_t *files = p->nrec > 0 ? calloc(p->nrec, sizeof *files) : NULL;
  if (p->nrec > 0 && files == NULL) return NULL;
  for (uint32_t k = 0; k < p->nrec; k++) {
    const record_t *r = &p->rec[k];
    char full[PATH_MAX], *copy = NULL;
    if (r->error != 0 || r->relative || !join(full, p->cwd, p->ends[r->depth], vsf_config.project_names[r->name]) || (copy = strdup(full)) == NULL) {
      kept_free(files, *n);
      *n = 0;
      return NULL;
    }
    files[(*n)++] = (kept_file_t) { copy, r->dev, r->ino, r->cs, r->cns, r->ms, r->mns, r->size };
  }
  return files;
}

void fast_put (vsf_project_t *p) {
  if (p->generation == 0 || !p->have_cwd || p->root_id.ino == 0 || !p->watched || p->links || p->inside || p->remote || p->state == 0 || p->status != VSF_PROJECT_WALKED || p->nrec > KEPT_FILES_MAX) return;
  uint32_t n;
  kept_file_t *files = kept_files(p, &n);
  if (p->nrec > 0 && files == NULL) return;
  pthread_mutex_lock(&fast_mu);
  // Only if nothing happened since the walk began: its result is then the walk now.
  if (current_epoch() == p->epoch) {
    fast_t *victim = vsf_set_victim(&cache, fast_set(p->req.pid, p->generation, &p->cwd_id), holds_image, p);
    kept_free(victim->files, victim->nfiles);
    *victim = (fast_t) { p->req.pid, p->generation, p->req.uid, p->cwd_id, p->root_id, p->epoch, p->state, n, files, 0 };
    vsf_set_touch(&cache, victim);
    files = NULL;
  }
  pthread_mutex_unlock(&fast_mu);
  kept_free(files, n);
}
