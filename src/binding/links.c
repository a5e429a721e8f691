// Symlink targets, kept by the link's identity. Reading a symlink touches its atime, so an lstat must not
// read one it has seen; and a variant link's target is needed for every one of its requests. A symlink's
// target never changes, and the key names the inode exactly: device, file handle (inode number and
// generation, so a reused inode number is another key), ctime, mtime and size. Filesystems without file
// handles are read every time. A table of its own: plain links (an `ls -lR` of a tree of them) never evict
// the memo's variant answers. Bounded by its ways: 2048 targets of at most 4 KiB (8 MiB), in sets of 4, the
// least recently used of a set replaced (never a new target refused: each would touch its link's atime).
#include "internal.h"
#include "setcache.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SETS 512
#define WAYS 4

typedef struct {
  uint64_t dev;
  int64_t times[4];
  int64_t size;
  int handle_type;
  unsigned char handle[MAX_HANDLE_SZ];
} link_key_t;

typedef struct {
  link_key_t key;
  size_t key_len;
  char *target;         // NULL: a free way
  size_t len;
  uint64_t used;        // setcache.h's stamp (0: a free way)
} link_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;  // guards links and cache (its clock); a leaf (docs/design.md, "Locks")
static link_t links[SETS * WAYS];
static vsf_setcache_t cache = { sizeof(link_t), offsetof(link_t, used), SETS, WAYS, NULL, 0 };

// The identity of the symlink (pfd, name) whose lstat is `st`; 0 when its filesystem gives no handle.
static size_t link_key (int pfd, const char *name, const struct stat *st, link_key_t *k) {
  struct { struct file_handle fh; unsigned char bytes[MAX_HANDLE_SZ]; } h;
  h.fh.handle_bytes = MAX_HANDLE_SZ;
  int mount_id;
  if (name_to_handle_at(pfd, name, &h.fh, &mount_id, VSF_AT_EMPTY(name)) != 0) return 0;
  memset(k, 0, sizeof *k);
  k->dev = st->st_dev;
  k->times[0] = st->st_ctim.tv_sec; k->times[1] = st->st_ctim.tv_nsec;
  k->times[2] = st->st_mtim.tv_sec; k->times[3] = st->st_mtim.tv_nsec;
  k->size = st->st_size;
  k->handle_type = h.fh.handle_type;
  memcpy(k->handle, h.fh.f_handle, h.fh.handle_bytes);
  return offsetof(link_key_t, handle) + h.fh.handle_bytes;
}

static uint64_t hash (const link_key_t *k, size_t len) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) h = (h ^ ((const unsigned char *) k)[i]) * 1099511628211ull;
  return h;
}

typedef struct { const link_key_t *k; size_t len; } lookup_t;

static int holds (const void *way, const void *key) {
  const link_t *l = way;
  const lookup_t *want = key;
  return l->key_len == want->len && memcmp(&l->key, want->k, want->len) == 0;
}

static ssize_t get (const link_key_t *k, size_t klen, char *target) {
  lookup_t want = { k, klen };
  ssize_t n = -1;
  pthread_mutex_lock(&mu);
  link_t *l = vsf_set_find(&cache, vsf_set_of(&cache, links, hash(k, klen)), holds, &want);
  if (l != NULL) {
    memcpy(target, l->target, l->len);
    n = (ssize_t) l->len;
    vsf_set_touch(&cache, l);
  }
  pthread_mutex_unlock(&mu);
  return n;
}

static void put (const link_key_t *k, size_t klen, const char *target, size_t len) {
  char *copy = malloc(len + 1);
  if (copy == NULL) return;
  memcpy(copy, target, len);
  pthread_mutex_lock(&mu);
  link_t *victim = vsf_set_victim(&cache, vsf_set_of(&cache, links, hash(k, klen)), NULL, NULL);
  free(victim->target);
  victim->key = *k;
  victim->key_len = klen;
  victim->target = copy;
  victim->len = len;
  vsf_set_touch(&cache, victim);
  pthread_mutex_unlock(&mu);
}

ssize_t vsf_link_target (int pfd, const char *name, const struct stat *st, char *target) {
  link_key_t k;
  size_t klen = st != NULL ? link_key(pfd, name, st, &k) : 0;
  ssize_t n = klen > 0 ? get(&k, klen, target) : -1;
  if (n >= 0) return n;
  n = readlinkat(pfd, name, target, VSF_TARGET_MAX - 1);
  if (n < 0) return -errno;
  if (klen > 0) put(&k, klen, target, (size_t) n);
  return n;
}

void vsf_link_target_keep (int pfd, const char *name, const char *target, size_t len) {
  struct stat st;
  link_key_t k;
  size_t klen;
  if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW | VSF_AT_EMPTY(name)) == 0 && S_ISLNK(st.st_mode) && (klen = link_key(pfd, name, &st, &k)) > 0) put(&k, klen, target, len);
}
