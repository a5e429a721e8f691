// The one set-associative cache of the binding: a table of `sets` sets of `ways` entries (any struct with a
// uint64_t `used` stamp), a key hashed to its set, and the victim rule written once: the way holding the
// key, else a free way (stamp 0, the first one), else the least recently used (the smallest stamp, the
// first one of equals). The cache's own mutex guards its ways and its clock; nothing here locks.
//
// Use: a static vsf_setcache_t { sizeof(entry), offsetof(entry, used), SETS, WAYS } beside the table;
// vsf_set_of(&c, table, hash) for the set; vsf_set_find for a lookup, vsf_set_victim for a store, and
// vsf_set_touch on each hit and each store. A cache with ways that may not be evicted now (a claimed
// entry) gives `busy`; one whose ways are sized at run time fills sets and ways before the first use. An
// entry emptied in place gets stamp 0 again (it is then free).
#ifndef VARSYMFS_SETCACHE_H
#define VARSYMFS_SETCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  size_t stride;                   // sizeof one entry
  size_t used_at;                  // offsetof(entry, used): a uint64_t, the entry's last use (0: free)
  uint32_t sets, ways;
  int (*busy) (const void *way);   // a way that may not be evicted now, found or not (NULL: none is)
  uint64_t clock;                  // the last stamp given (under the cache's mutex)
} vsf_setcache_t;

// Whether a way holds `key` (the cache's own comparison).
typedef int vsf_set_holds_fn (const void *way, const void *key);

static inline void *vsf_set_way (const vsf_setcache_t *c, void *set, uint32_t i) {
  return (char *) set + (size_t) i * c->stride;
}

static inline uint64_t *vsf_set_used (const vsf_setcache_t *c, void *way) {
  return (uint64_t *) ((char *) way + c->used_at);
}

// The set `hash` falls in, of `table` (sets * ways entries, one set after another).
static inline void *vsf_set_of (const vsf_setcache_t *c, void *table, uint64_t hash) {
  return (char *) table + (size_t) (hash % c->sets) * c->ways * c->stride;
}

// The way of `set` in use that holds `key`; NULL when none does. Busy ways are found too.
static inline void *vsf_set_find (const vsf_setcache_t *c, void *set, vsf_set_holds_fn *holds, const void *key) {
  for (uint32_t i = 0; i < c->ways; i++) {
    void *w = vsf_set_way(c, set, i);
    if (*vsf_set_used(c, w) != 0 && holds(w, key)) return w;
  }
  return NULL;
}

// Where an entry for `key` goes: the way holding it (`holds` NULL: not looked for), else the first free
// way, else the least recently used. Never a busy way (one holding the key is passed over: a cache with
// claims looks with vsf_set_find first); NULL when every way is busy.
static inline void *vsf_set_victim (const vsf_setcache_t *c, void *set, vsf_set_holds_fn *holds, const void *key) {
  void *held = holds != NULL ? vsf_set_find(c, set, holds, key) : NULL;
  if (held != NULL && (c->busy == NULL || !c->busy(held))) return held;
  void *victim = NULL;
  for (uint32_t i = 0; i < c->ways; i++) {
    void *w = vsf_set_way(c, set, i);
    if (c->busy != NULL && c->busy(w)) continue;
    if (*vsf_set_used(c, w) == 0) return w;
    if (victim == NULL || *vsf_set_used(c, w) < *vsf_set_used(c, victim)) victim = w;
  }
  return victim;
}

// Marks `way` used now (a hit, or a store just made into it).
static inline void vsf_set_touch (vsf_setcache_t *c, void *way) {
  *vsf_set_used(c, way) = ++c->clock;
}

#endif
