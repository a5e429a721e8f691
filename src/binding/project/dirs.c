// Which project files a directory holds, kept by the directory's identity and ctime: a directory that
// gains or loses an entry changes its ctime, so a kept answer is the answer now. Only the names directly in
// the directory are kept (a change in a subdirectory leaves its ctime alone: walk.c looks at nested names
// on every walk), and only once its ctime is settled (walk.c).
#include "internal.h"
#include "../setcache.h"
#include <sys/sysmacros.h>

#define DIR_SETS 512
#define DIR_WAYS 4
typedef struct { uint64_t dev, ino; int64_t cs, cns; uint32_t mask, links; uint64_t used; } dirent_t;
static pthread_mutex_t dir_mu = PTHREAD_MUTEX_INITIALIZER;  // guards dirs and cache's clock; a leaf
static dirent_t dirs[DIR_SETS][DIR_WAYS];
static vsf_setcache_t cache = { sizeof(dirent_t), offsetof(dirent_t, used), DIR_SETS, DIR_WAYS, NULL, 0 };

static dirent_t *dir_set (const struct statx *st) {
  return vsf_set_of(&cache, dirs, st->stx_ino ^ st->stx_dev_minor ^ ((uint64_t) st->stx_dev_major << 20));
}

// The directory, as it is now (its identity and ctime).
static int holds_dir (const void *way, const void *key) {
  const dirent_t *d = way;
  const struct statx *st = key;
  return d->ino == st->stx_ino && d->dev == makedev(st->stx_dev_major, st->stx_dev_minor) && d->cs == st->stx_ctime.tv_sec && d->cns == st->stx_ctime.tv_nsec;
}

// The names the directory `st` holds (a bit per project file name: *mask, and those that are symlinks:
// *links), when kept. 1 when they were.
int dir_get (const struct statx *st, uint32_t *mask, uint32_t *links) {
  dirent_t *set = dir_set(st);
  pthread_mutex_lock(&dir_mu);
  dirent_t *d = vsf_set_find(&cache, set, holds_dir, st);
  if (d != NULL) {
    *mask = d->mask;
    *links = d->links;
    vsf_set_touch(&cache, d);
  }
  pthread_mutex_unlock(&dir_mu);
  return d != NULL;
}

void dir_put (const struct statx *st, uint32_t mask, uint32_t links) {
  dirent_t *set = dir_set(st);
  pthread_mutex_lock(&dir_mu);
  // Never kept yet (dir_get missed): not looked for.
  dirent_t *victim = vsf_set_victim(&cache, set, NULL, NULL);
  *victim = (dirent_t) { makedev(st->stx_dev_major, st->stx_dev_minor), st->stx_ino, st->stx_ctime.tv_sec, st->stx_ctime.tv_nsec, mask, links, 0 };
  vsf_set_touch(&cache, victim);
  pthread_mutex_unlock(&dir_mu);
}
