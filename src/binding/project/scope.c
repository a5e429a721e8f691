// The project scope of one request, the interface of ../internal.h: which project files a caller's working
// directory sees (walk.c), the state the memo keys by, and their bytes for JS (contents.c). The order of
// one request: the fast path (fast.c) when nothing on a kept walk changed, else a walk; a walk that touches
// a network or FUSE filesystem runs on a thread of its own (threads.c) and is given up after the mount's
// --project-timeout: only that caller waits, and it still gets the files of the local directories below
// the one that may stall (give_up: partial, not kept).
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Drops one reference (the requesting thread's or a walk thread's): the last frees p.
void release (vsf_project_t *p) {
  if (atomic_fetch_sub(&p->refs, 1) != 1) return;
  if (p->cwd_fd >= 0) close(p->cwd_fd);
  free(p->block);
  free(p->want);
  free(p->rec);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
}

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

// The directories of p below the nearest one that may stall, copied into q: how many (0: none).
static uint32_t copy_local (vsf_project_t *q, vsf_project_t *p) {
  // Set by locate, which the thread may run again (walk_dirs_settled): read and copied under p->mu.
  pthread_mutex_lock(&p->mu);
  uint32_t local = p->local_dirs;
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
  return local;
}

// Given up on (a timeout): the thread keeps its own reference. With `partial`, this request goes on with
// the files of the directories below the nearest one that may stall (local: walked here, now), marked
// partial and never kept: an attacker's hung mount above never discards the caller's own nearer pin.
// Otherwise, or when there are none, without project files.
static uint32_t give_up (vsf_project_t **pp, int partial) {
  vsf_project_t *p = *pp;
  COUNT(VSF_C_PROJECT_TIMEOUTS);
  vsf_project_t *q = vsf_project_new(&p->req);
  uint32_t local = partial && q != NULL ? copy_local(q, p) : 0;
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
