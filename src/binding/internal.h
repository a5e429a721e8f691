// What the addon's files share among themselves (the contract with fuse-native and JS is varsymfs.h).
#ifndef VARSYMFS_INTERNAL_H
#define VARSYMFS_INTERNAL_H

#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "varsymfs.h"

#define VSF_OPENERS_MAX 8

// Set once by configure() before the mount starts; read-only while it serves.
typedef struct {
  char reserved[256];      // varsymfs's own data file at the backing root (and its temporary siblings)
  size_t reserved_len;
  int act_as_caller;       // a root daemon serving other users: path operations run with the caller's ids
  int root_daemon;         // the daemon runs as root: files outside the mount are read as each caller
  uint32_t mount_owner;    // the daemon's uid: its links read their followers' environments (callers.c)
  uint64_t generation_stride;  // how far each new environment generation moves the counter (1; tests: more)
  uint32_t cache_max;      // caller table entries
  char openers[VSF_OPENERS_MAX][8];  // how a reference starts ("$<", "${"): TS's grammar says, C only looks
  uint32_t openers_count;
  char project_names[VSF_PROJECT_NAMES_MAX][256];  // project files, in TS's precedence order (0: the scope is off)
  uint32_t project_count;
  uint32_t project_timeout_ms;
  char *trust_dirs[VSF_TRUST_DIRS_MAX];  // --trust-dir: project files below these count whoever owns them
  size_t trust_lens[VSF_TRUST_DIRS_MAX];
  uint32_t trust_count;
  char mount_point[4096];  // the mount point as /proc names it (realpath), for working directories inside it
  size_t mount_point_len;
} vsf_config_t;
extern vsf_config_t vsf_config;

// Request and resolution counters, read by `status` (no JS on the request path).
enum vsf_counter {
  VSF_C_RESOLUTIONS, VSF_C_MEMO_HITS, VSF_C_ENV_LOOKUPS, VSF_C_ENV_CACHED, VSF_C_ENV_EXEC, VSF_C_ENV_UNREADABLE,
  VSF_C_ENV_SECURE, VSF_C_EXEC_REFUSED, VSF_C_PASSED_TO_JS, VSF_C_PROJECT_WALKS, VSF_C_PROJECT_ANSWERED,
  VSF_C_PROJECT_TIMEOUTS, VSF_C_ENV_LINK_OWNER, VSF_C_SHARE_REFUSED, VSF_C_COUNT
};
extern _Atomic uint64_t vsf_op_counts[VSF_OP_COUNT];
extern _Atomic uint64_t vsf_counts[VSF_C_COUNT];
#define COUNT(c) atomic_fetch_add_explicit(&vsf_counts[c], 1, memory_order_relaxed)

// paths.c: backing paths, never following a symlink in the store.
int vsf_safe_open (const char *rel, int flags, mode_t mode);
int vsf_open_parent (const char *rel, int *pfd, const char **name);
void vsf_close_parent (int pfd);
const char *vsf_relative (const char *path);
int vsf_is_reserved (const char *path);
int vsf_is_reserved_name (const char *name);
void vsf_encode_stat (const struct stat *st, uint32_t *ints);

// creds.c: act as the caller on this thread.
typedef struct { int active; } vsf_creds_t;
int vsf_become_caller (const vsf_request_t *r, vsf_creds_t *saved, int with_groups);
#define VSF_GROUPS_MAX 1024
// As vsf_become_caller with groups, giving them (n, or -errno), for reading files outside the mount: a uid-0
// caller too, with its own effective capabilities (*caps; 0 for others).
int vsf_become_caller_groups (const vsf_request_t *r, vsf_creds_t *saved, gid_t *groups, int max, uint64_t *caps);
// As the user who opened a file (uid, gid), for a write the kernel sends without a caller.
int vsf_become_opener (uint32_t uid, uint32_t gid, vsf_creds_t *saved);
void vsf_restore_creds (vsf_creds_t *saved);
int vsf_creds_init (void);

// project.c: the caller's project files (NULL: the scope is off).
typedef struct vsf_project vsf_project_t;
vsf_project_t *vsf_project_new (const vsf_request_t *r);
void vsf_project_free (vsf_project_t *p);
void vsf_project_skip (vsf_project_t *p);   // a secure exec: no project scope
uint32_t vsf_project_state (vsf_project_t **p, uint64_t generation);  // generation: the caller's image (0: none)
int vsf_project_contents (vsf_project_t **p, char **block, size_t *len, uint32_t *state);

// callers.c: which environment a caller means, and the link's expansion.
typedef struct {
  int error;               // -errno: the daemon could not find out (out of fds or memory); answer it
  int source;              // enum vsf_source
  int exec_check;          // enum vsf_exec_check
  int link_owner;          // enum vsf_link_owner: which rule let the link read the environment, or none did
  uint64_t generation;     // VSF_ENV_CACHED/FRESH: cache generation (0: not cached)
  char *env;               // malloc'd block when read (FRESH, EXEC, or CACHED on a memo miss)
  size_t env_len;
} vsf_probe_t;
int vsf_cache_init (uint32_t max);
// Which rule lets a link owned by `owner` read the environment of a follower with fs uid `follower`.
int vsf_link_owner_rule (uint32_t owner, uint32_t follower);
// Probes caller `tid` (with its request's fs ids) for a link owned by `link_owner` whose target is `target`. On a memo hit
// returns nonzero (VSF_HIT_PROJECT set: a project file answered) and fills exp/exp_len (exp_len may exceed
// VSF_TARGET_MAX - 1: too long); else 0 with `out` filled, the environment read when the answer needs JS.
// `proj` is walked only if an answer may depend on it.
int vsf_probe_caller (uint32_t tid, uint32_t uid, uint32_t gid, uint32_t link_owner, const char *target, size_t target_len, vsf_project_t **proj, vsf_probe_t *out, char *exp, size_t *exp_len);
void vsf_probe_uncached (uint32_t tid, uint32_t uid, uint32_t link_owner, vsf_probe_t *out);
uint32_t vsf_cache_entries (void);
int vsf_has_reference (const char *target, size_t len);

// memo.c: expansions JS computed, keyed by what they depend on.
// Environment generations are 64-bit: a caller's generation is never given again while the daemon runs.
#define VSF_GEN_NO_ENV UINT64_MAX          // the generation under which expansions without an environment are kept
#define VSF_GEN_LINK (UINT64_MAX - 1)      // ... and link targets by the link's identity (ops.c)
#define VSF_GEN_NAMES (UINT64_MAX - 2)     // ... the variables a target names (set by JS)
#define VSF_GEN_EXEC (UINT64_MAX - 3)      // ... and expansions for a pending exec, by the values of those variables
// `project`: 0 for an answer that does not depend on the caller's project files, else the project state it
// was made in. `flags` VSF_HIT_PROJECT: a project file answered (for status). A hit returns 1 | its flags.
#define VSF_HIT_PROJECT 2
int vsf_memo_get (uint64_t generation, uint32_t project, const char *target, size_t target_len, char *exp, size_t *exp_len);
void vsf_memo_put (uint64_t generation, uint32_t defaults_generation, uint32_t project, uint32_t flags, const char *target, size_t target_len, const char *exp, size_t exp_len);
// The answer for (generation, target): one independent of the project files, else one for the caller's
// project state (walked only now).
int vsf_answer_get (uint64_t generation, const char *target, size_t target_len, vsf_project_t **proj, char *exp, size_t *exp_len);
int vsf_memo_get_exec (const char *target, size_t target_len, const char *env, size_t env_len, vsf_project_t **proj, char *exp, size_t *exp_len);
void vsf_memo_put_exec (const char *target, size_t target_len, const char *names, size_t names_len, const char *env, size_t env_len, uint32_t defaults_generation, uint32_t project, uint32_t flags, const char *exp, size_t exp_len);
uint32_t vsf_defaults_generation (void);
uint32_t vsf_defaults_changed (void);

// shares.c: at most VSF_SHARE_MAX resolutions in flight per caller fs uid; the next waits for one to
// finish, and is refused (EAGAIN) when none of that user's has finished for VSF_SHARE_WAIT_MS.
#define VSF_SHARE_MAX 16
#define VSF_SHARE_WAIT_MS 2000
int vsf_share_take (uint32_t uid);
void vsf_share_release (uint32_t uid);

// ops.c
int vsf_hook (vsf_request_t *r, char *slot);

#endif
