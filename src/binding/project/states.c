// The interned states: equal project states (what a walk saw: walk.c) share one number, never reused, and
// the memo keys project-dependent answers by that number. Ids are never reused (a memo entry keyed by an
// evicted state's id can never match again); at the end of 32 bits, states stop being kept rather than wrap.
#include "internal.h"
#include "../setcache.h"
#include <stdlib.h>
#include <string.h>

#define STATE_SETS 256
#define STATE_WAYS 4
typedef struct { uint64_t hash; uint32_t id, len; char *blob; uint64_t used; } state_t;
static pthread_mutex_t state_mu = PTHREAD_MUTEX_INITIALIZER;  // guards states, cache's clock and next_state; a leaf
static state_t states[STATE_SETS][STATE_WAYS];
static vsf_setcache_t cache = { sizeof(state_t), offsetof(state_t, used), STATE_SETS, STATE_WAYS, NULL, 0 };
static uint32_t next_state = VSF_PROJECT_EMPTY + 1;

typedef struct { uint64_t hash; const char *blob; size_t len; } state_key_t;

static int holds_state (const void *way, const void *key) {
  const state_t *s = way;
  const state_key_t *k = key;
  return s->hash == k->hash && s->len == k->len && memcmp(s->blob, k->blob, k->len) == 0;
}

// A new state for `key` in `set` (under state_mu): its id, 0 when it cannot be kept.
static uint32_t add_state (state_t *set, const state_key_t *key) {
  char *copy = malloc(key->len);
  if (copy == NULL || next_state == UINT32_MAX) { free(copy); return 0; }
  state_t *victim = vsf_set_victim(&cache, set, NULL, NULL);
  memcpy(copy, key->blob, key->len);
  free(victim->blob);
  *victim = (state_t) { key->hash, next_state++, (uint32_t) key->len, copy, 0 };
  vsf_set_touch(&cache, victim);
  return victim->id;
}

// The id of the state `blob` (VSF_PROJECT_EMPTY for none; 0: not kept).
uint32_t intern (const char *blob, size_t len) {
  if (len == 0) return VSF_PROJECT_EMPTY;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char) blob[i]) * 1099511628211ull;
  state_key_t key = { h, blob, len };
  state_t *set = vsf_set_of(&cache, states, h);
  pthread_mutex_lock(&state_mu);
  state_t *s = vsf_set_find(&cache, set, holds_state, &key);
  if (s != NULL) vsf_set_touch(&cache, s);
  uint32_t id = s != NULL ? s->id : add_state(set, &key);
  pthread_mutex_unlock(&state_mu);
  return id;
}
