// Answers JS computed, kept so that the next request asking the same question is answered on its FUSE
// worker thread; the key of an answer is built here and nowhere else (resolve.c asks, JS never does). It is
// exactly what an expansion depends on: the caller's environment (the generation of its cached read, which
// changes whenever the environment is read afresh, or VSF_GEN_NO_ENV when there is none; for a pending exec,
// the values of exactly the variables the target names), the mount defaults (their generation, bumped by JS
// on every change), the caller's project state when the answer depends on its project files (project/; 0
// when it does not) and the link's target bytes. The grammar stays JS's alone: C never expands anything, it
// only replays answers. Bounded: 4096 entries in sets of 4, and MEMO_BYTES_MAX bytes of keys and expansions.
#include "internal.h"
#include "setcache.h"
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define SETS 1024
#define WAYS 4
#define MEMO_BYTES_MAX (8u << 20)

typedef struct {
  uint64_t generation;
  uint32_t defaults_generation, project, flags;
  uint64_t hash;
  uint32_t target_len;
  uint32_t exp_len;      // may exceed VSF_TARGET_MAX - 1 (too long: only the length is kept)
  char *data;            // target, then the expansion when it fits
  uint64_t used;         // setcache.h's stamp (0: a free way)
} memo_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;  // guards memo, bytes and cache (its clock); a leaf (docs/design.md, "Locks")
static memo_t memo[SETS * WAYS];
static vsf_setcache_t cache = { sizeof(memo_t), offsetof(memo_t, used), SETS, WAYS, NULL, 0 };
static size_t bytes;
static _Atomic uint32_t defaults_gen = 1;

uint32_t vsf_defaults_generation (void) { return atomic_load(&defaults_gen); }
uint32_t vsf_defaults_changed (void) { return atomic_fetch_add(&defaults_gen, 1) + 1; }

static uint64_t hash (uint64_t generation, uint32_t dgen, uint32_t project, const char *target, size_t len) {
  uint64_t h = ((1469598103934665603ull ^ generation) * 1099511628211ull ^ ((uint64_t) dgen << 32 | project)) * 1099511628211ull;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char) target[i]) * 1099511628211ull;
  return h;
}

static size_t stored_exp (uint32_t exp_len) { return exp_len < VSF_TARGET_MAX ? exp_len : 0; }

// The names a target uses (VSF_GEN_NAMES) do not depend on the defaults.
static uint32_t key_defaults (uint64_t generation, uint32_t dgen) { return generation == VSF_GEN_NAMES ? 0 : dgen; }

// What a lookup compares: the key, with its defaults generation, project state and hash.
typedef struct { const vsf_memo_key_t *k; uint32_t dgen, project; uint64_t hash; } lookup_t;

static int holds (const void *way, const void *key) {
  const memo_t *m = way;
  const lookup_t *l = key;
  return m->hash == l->hash && m->generation == l->k->generation && m->defaults_generation == l->dgen && m->project == l->project &&
    m->target_len == l->k->len && memcmp(m->data, l->k->bytes, l->k->len) == 0;
}

int vsf_memo_get (const vsf_memo_key_t *k, uint32_t project, char *exp, size_t *exp_len) {
  uint32_t dgen = key_defaults(k->generation, vsf_defaults_generation());
  lookup_t l = { k, dgen, project, hash(k->generation, dgen, project, k->bytes, k->len) };
  int hit = 0;
  pthread_mutex_lock(&mu);
  memo_t *m = vsf_set_find(&cache, vsf_set_of(&cache, memo, l.hash), holds, &l);
  if (m != NULL) {
    memcpy(exp, m->data + k->len, stored_exp(m->exp_len));
    *exp_len = m->exp_len;
    vsf_set_touch(&cache, m);
    hit = 1 | (int) m->flags;
  }
  pthread_mutex_unlock(&mu);
  return hit;
}

void vsf_memo_put (const vsf_memo_key_t *k, uint32_t dgen, uint32_t project, uint32_t flags, const char *exp, size_t exp_len) {
  if (k->generation == 0 || dgen != vsf_defaults_generation() || k->len >= VSF_TARGET_MAX) return;
  dgen = key_defaults(k->generation, dgen);
  uint32_t len32 = (uint32_t) (exp_len > UINT32_MAX ? UINT32_MAX : exp_len);
  size_t keep = stored_exp(len32);
  char *data = malloc(k->len + keep + 1);
  if (data == NULL) return;
  memcpy(data, k->bytes, k->len);
  memcpy(data + k->len, exp, keep);
  uint64_t h = hash(k->generation, dgen, project, k->bytes, k->len);
  pthread_mutex_lock(&mu);
  memo_t *victim = vsf_set_victim(&cache, vsf_set_of(&cache, memo, h), NULL, NULL);
  size_t old = victim->data != NULL ? victim->target_len + stored_exp(victim->exp_len) : 0;
  if (bytes - old + k->len + keep > MEMO_BYTES_MAX) { pthread_mutex_unlock(&mu); free(data); return; }
  free(victim->data);
  bytes = bytes - old + k->len + keep;
  *victim = (memo_t) { k->generation, dgen, project, flags & VSF_HIT_PROJECT, h, (uint32_t) k->len, len32, data, 0 };
  vsf_set_touch(&cache, victim);
  pthread_mutex_unlock(&mu);
}

// ---- pending exec: keyed by the values of exactly the variables the target names --------------------------

// The first "NAME=" entry of an environment block (getenv's rule), or NULL.
static const char *lookup (const char *env, size_t env_len, const char *name, size_t name_len, size_t *value_len) {
  for (size_t at = 0; at < env_len;) {
    const char *entry = env + at;
    const char *nul = memchr(entry, 0, env_len - at);
    size_t len = nul != NULL ? (size_t) (nul - entry) : env_len - at;
    if (len > name_len && entry[name_len] == '=' && memcmp(entry, name, name_len) == 0) {
      *value_len = len - name_len - 1;
      return entry + name_len + 1;
    }
    at += len + 1;
  }
  return NULL;
}

// target, NUL, then for each name: a 1 and its value and a NUL, or a 0. 0 when it does not fit.
static size_t exec_key (const vsf_question_t *q, const char *names, size_t names_len, char *key) {
  size_t k = 0;
  if (q->target_len + 1 > VSF_TARGET_MAX - 1) return 0;
  memcpy(key, q->target, q->target_len);
  k = q->target_len;
  key[k++] = 0;
  for (size_t at = 0; at < names_len;) {
    const char *name = names + at;
    size_t name_len = strnlen(name, names_len - at), value_len = 0;
    const char *value = lookup(q->env, q->env_len, name, name_len, &value_len);
    if (k + 2 + value_len >= VSF_TARGET_MAX - 1) return 0;
    key[k++] = value != NULL ? 1 : 0;
    if (value != NULL) { memcpy(key + k, value, value_len); k += value_len; key[k++] = 0; }
    at += name_len + 1;
  }
  return k;
}

// ---- keys ---------------------------------------------------------------------------------------------

// The generation an answer for this environment is kept under (0: none).
static uint64_t generation_of (const vsf_question_t *q) {
  switch (q->source) {
    case VSF_ENV_CACHED: case VSF_ENV_FRESH: return q->generation;
    case VSF_ENV_EXEC: return VSF_GEN_EXEC;
    default: return VSF_GEN_NO_ENV;  // unreadable, secure, another user's link: no environment
  }
}

static int target_key (vsf_memo_key_t *k, uint64_t generation, const vsf_question_t *q) {
  k->generation = generation;
  if (k->generation == 0 || q->target_len >= VSF_TARGET_MAX) return 0;
  memcpy(k->bytes, q->target, q->target_len);
  k->len = q->target_len;
  return 1;
}

int vsf_memo_key (vsf_memo_key_t *k, const vsf_question_t *q) {
  if (q->source != VSF_ENV_EXEC) return target_key(k, generation_of(q), q);
  char names[VSF_TARGET_MAX];
  size_t names_len;
  if (!target_key(k, VSF_GEN_NAMES, q) || !vsf_memo_get(k, 0, names, &names_len) || names_len >= VSF_TARGET_MAX) return 0;
  k->generation = VSF_GEN_EXEC;
  k->len = exec_key(q, names, names_len, k->bytes);
  return k->len > 0;
}

int vsf_memo_key_used (vsf_memo_key_t *k, const vsf_question_t *q, const char *names, size_t names_len, uint32_t dgen) {
  if (q->source != VSF_ENV_EXEC) return target_key(k, generation_of(q), q);
  vsf_memo_key_t names_key;
  if (names_len >= VSF_TARGET_MAX || q->env == NULL || !target_key(&names_key, VSF_GEN_NAMES, q)) return 0;
  k->generation = VSF_GEN_EXEC;
  k->len = exec_key(q, names, names_len, k->bytes);
  if (k->len == 0) return 0;
  vsf_memo_put(&names_key, dgen, 0, 0, names, names_len);
  return 1;
}
