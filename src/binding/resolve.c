// How a variant link is answered: the one place to read it, top to bottom (vsf_resolve_link).
//
//   the link's target (links.c) ── no reference ─────────────────────────────────────────► reply
//   which environment the caller means (callers.c) ── the daemon could not tell ─────────► -errno
//   the memo key (memo.c) → an answer independent of the project files? ─────────────────► reply
//   the caller's project state (project/, walked only now) → an answer for that state? ──► reply
//   the environment and the project files left in the slot ──────────────────────────────► JS
//   JS expands (resolver.ts) and answers in one call: vsf_resolve_answer keys and keeps its answer (memo.c)
//   and shapes the reply through reply(), the function a kept answer's reply goes through.
//
// Each step's file answers its one question and calls none of the others: callers.c never looks up an
// answer, memo.c never walks, project/ never reads an environment.
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

// Where a reply goes: getattr's stat, or readlink's buffer and its size.
typedef struct {
  struct stat *stat;
  char *buf;
  size_t len;
} reply_t;

// getattr: the link's lstat with st_size the expansion's length (no blocks); readlink: the expansion,
// which must fit the caller's buffer and a path (PATH_MAX - 1).
static int reply (const struct stat *st, const char *exp, size_t exp_len, const reply_t *out) {
  if (st != NULL) {
    *out->stat = *st;
    out->stat->st_size = (off_t) exp_len;
    out->stat->st_blocks = 0;
    return 0;
  }
  if (exp_len >= VSF_TARGET_MAX || exp_len >= out->len) return -ENAMETOOLONG;
  memmove(out->buf, exp, exp_len);
  out->buf[exp_len] = 0;
  return 0;
}

// One question being answered: the caller's environment, its project files, the key.
typedef struct {
  vsf_env_t env;
  vsf_project_t *proj;
  vsf_question_t q;
  vsf_memo_key_t key;
  int keyed;
} ask_t;

// A kept answer: one that does not depend on the caller's project files, else one for its project state
// (walked only now). An environment read just now has a generation no answer was kept under yet.
static int kept (ask_t *a, char *exp, size_t *exp_len) {
  if (a->env.source == VSF_ENV_SECURE) vsf_project_skip(a->proj);  // not the one who chose its project files
  a->q = (vsf_question_t) { a->env.source, a->env.generation, a->env.env, a->env.env_len, a->q.target, a->q.target_len };
  a->keyed = a->env.source != VSF_ENV_FRESH && vsf_memo_key(&a->key, &a->q);
  if (!a->keyed) return 0;
  int hit = vsf_memo_get(&a->key, 0, exp, exp_len);
  if (hit || a->proj == NULL) return hit;
  uint32_t state = vsf_project_state(&a->proj, a->env.generation);
  return state != 0 ? vsf_memo_get(&a->key, state, exp, exp_len) : 0;
}

// Leaves the question in the slot for JS: the target, the environment (read now if it was not), the
// caller's project files. VSF_RESOLVE_PASS, or -errno (a->env.error: ask gives the entry back).
static int pass (ask_t *a, vsf_request_t *r, vsf_slot_t *s, const struct stat *st) {
  vsf_env_read(&a->env);
  if (a->env.error < 0) return a->env.error;  // never answered as "no environment" (out of fds or memory)
  if (a->env.source == VSF_ENV_SECURE) vsf_project_skip(a->proj);  // the image went; the new one is secure
  vsf_env_close(&a->env);
  char *block = NULL;
  size_t block_len = 0;
  uint32_t state = 0;
  int ps = vsf_project_contents(&a->proj, &block, &block_len, &state);
  if (ps == VSF_PROJECT_FAILED) { free(a->env.env); free(block); return -ENOMEM; }
  *s = (vsf_slot_t) {
    .status = VSF_RESOLVE, .source = a->env.source, .exec_check = a->env.exec_check, .generation = a->env.generation,
    .target_len = (uint32_t) a->q.target_len, .env_ptr = (uint64_t) (uintptr_t) a->env.env, .env_len = (uint32_t) a->env.env_len,
    .op = (int32_t) r->op, .reply_len = (uint32_t) (r->len < VSF_TARGET_MAX ? r->len : VSF_TARGET_MAX),
    .project_status = ps, .project_state = state, .project_ptr = (uint64_t) (uintptr_t) block, .project_len = (uint32_t) block_len,
  };
  memcpy(s->target, a->q.target, a->q.target_len + 1);
  if (st != NULL) { s->link_stat = *st; vsf_encode_stat(st, s->stat); }
  s->share_uid = r->uid;  // given back by JS (slotRelease) once it has answered
  COUNT(VSF_C_PASSED_TO_JS);
  return VSF_RESOLVE_PASS;
}

// The variant link `target` for the request's caller: from a kept answer, or passed to JS.
static int ask (vsf_request_t *r, vsf_slot_t *slot, const struct stat *st, uint32_t owner, const char *target, size_t n) {
  ask_t a = { .q = { .target = target, .target_len = n } };
  char exp[VSF_TARGET_MAX];
  size_t exp_len = 0;
  a.proj = vsf_project_new(r);
  if (a.proj == NULL && vsf_config.project_count > 0) return -ENOMEM;
  vsf_env_open(&a.env, r->pid, r->uid, r->gid, owner, 1);
  // Never an answer made without the environment because the daemon ran out of fds or memory.
  int hit = a.env.error < 0 ? 0 : kept(&a, exp, &exp_len);
  if (a.env.error < 0 || !hit) {
    int res = a.env.error < 0 ? a.env.error : pass(&a, r, slot, st);
    if (a.env.error < 0) { vsf_env_close(&a.env); free(a.env.env); }
    vsf_project_free(a.proj);
    return res;
  }
  vsf_env_close(&a.env);
  free(a.env.env);
  vsf_project_free(a.proj);
  if (hit & VSF_HIT_PROJECT) COUNT(VSF_C_PROJECT_ANSWERED);
  COUNT(VSF_C_MEMO_HITS);
  return reply(st, exp, exp_len, &(reply_t) { r->stat, r->buf, r->len });
}

int vsf_resolve_link (vsf_request_t *r, vsf_slot_t *slot, const vsf_link_t *link) {
  char target[VSF_TARGET_MAX];
  ssize_t n = vsf_link_target(link->pfd, link->name, link->st, target);
  if (n < 0) return (int) n;
  target[n] = 0;
  if (!vsf_has_reference(target, (size_t) n)) return reply(link->st, target, (size_t) n, &(reply_t) { r->stat, r->buf, r->len });
  // Whose link it is decides whether the caller's environment may answer it (callers.c): readlink has no
  // stat of its own, so a variant link is lstat'ed here (a plain link never is).
  struct stat lst;
  if (link->st == NULL && fstatat(link->pfd, link->name, &lst, AT_SYMLINK_NOFOLLOW | VSF_AT_EMPTY(link->name)) != 0) return -errno;
  uint32_t owner = (uint32_t) (link->st != NULL ? link->st->st_uid : lst.st_uid);
  COUNT(VSF_C_RESOLUTIONS);
  // The link is read with the caller's rights; its /proc files are read with the daemon's (a root daemon
  // keeps pending exec under Yama; secure-exec callers are told apart in callers.c).
  vsf_restore_creds(link->creds);
  // One of the caller's user's shares of the daemon, held until the answer is known (shares.c).
  int shared = vsf_share_take(r->uid);
  if (shared < 0) return shared;
  int res = ask(r, slot, link->st, owner, target, (size_t) n);
  if (res != VSF_RESOLVE_PASS) vsf_share_release(r->uid);
  return res;
}

// A question done with: its blocks freed and its share given back, once (the slot is then VSF_NONE). By JS
// once it has answered (slotRelease), else before the next request in these locals (JS never did: a bug).
void vsf_resolve_reset (vsf_slot_t *slot) {
  if (slot->status == VSF_RESOLVE) vsf_share_release(slot->share_uid);
  free((void *) (uintptr_t) slot->env_ptr);
  free((void *) (uintptr_t) slot->project_ptr);
  slot->env_ptr = 0;
  slot->env_len = 0;
  slot->project_ptr = 0;
  slot->project_len = 0;
  slot->status = VSF_NONE;
}

// ---- JS's answer ------------------------------------------------------------------------------------------

// Keeps an answer by exactly what it depends on: by the project state it was made in, unless only the
// caller's own environment answered (then no project file could have mattered) or the scope is off.
static void keep (const vsf_slot_t *s, const vsf_answer_t *a) {
  int independent = vsf_config.project_count == 0 || (a->scopes & ~(uint32_t) VSF_SCOPE_CALLER) == 0;
  uint32_t project = independent ? 0 : s->project_state;
  if (!a->keep || (project == 0 && !independent)) return;  // a walk's state not to be kept (a file just changed, a timeout)
  vsf_question_t q = { s->source, s->generation, (const char *) (uintptr_t) s->env_ptr, s->env_len, s->target, s->target_len };
  vsf_memo_key_t k;
  if (!vsf_memo_key_used(&k, &q, a->names, a->names_len, a->defaults_generation)) return;
  uint32_t flags = (a->scopes & VSF_SCOPE_PROJECT) ? VSF_HIT_PROJECT : 0;
  vsf_memo_put(&k, a->defaults_generation, project, flags, a->exp, a->exp_len);
}

int vsf_resolve_answer (vsf_slot_t *s, const vsf_answer_t *a) {
  if (s->status != VSF_RESOLVE || s->target_len >= VSF_TARGET_MAX) return -EIO;
  keep(s, a);
  if (s->op == VSF_OP_GETATTR) {
    struct stat st;
    int res = reply(&s->link_stat, a->exp, a->exp_len, &(reply_t) { .stat = &st });
    vsf_encode_stat(&st, s->stat);
    return res;
  }
  int res = reply(NULL, a->exp, a->exp_len, &(reply_t) { .buf = s->target, .len = s->reply_len });
  return res < 0 ? res : (int) a->exp_len;
}
