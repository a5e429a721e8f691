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
  // The low-level path (lowlevel.c): what the kernel may keep, by --cache (docs/semantics.md).
  double entry_timeout;    // a name found
  double attr_timeout;     // the attributes of anything but a variant link (never kept)
  double negative_timeout; // a missing name (0: asked every time)
  int pages;               // enum vsf_pages: a file's pages across opens
} vsf_config_t;
enum vsf_pages { VSF_PAGES_DROP = 0, VSF_PAGES_UNCHANGED = 1, VSF_PAGES_ALWAYS = 2 };
// The empty name: the fd itself (an O_PATH fd of the low-level path's inode table).
#define VSF_AT_EMPTY(name) ((name)[0] == 0 ? AT_EMPTY_PATH : 0)
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

// project/ (scope.c): the caller's project files (NULL: the scope is off).
typedef struct vsf_project vsf_project_t;
vsf_project_t *vsf_project_new (const vsf_request_t *r);
void vsf_project_free (vsf_project_t *p);
void vsf_project_skip (vsf_project_t *p);   // a secure exec: no project scope
uint32_t vsf_project_state (vsf_project_t **p, uint64_t generation);  // generation: the caller's image (0: none)
int vsf_project_contents (vsf_project_t **p, char **block, size_t *len, uint32_t *state);

// callers.c: which environment a caller means (nothing else: it neither looks up answers nor walks).
typedef struct vsf_entry vsf_entry_t;  // a caller table entry (callers.c's own)
typedef struct {
  int error;               // -errno: the daemon could not find out (out of fds or memory); answer it
  int source;              // enum vsf_source
  int exec_check;          // enum vsf_exec_check
  int link_owner;          // enum vsf_link_owner: which rule let the link read the environment, or none did
  uint64_t generation;     // VSF_ENV_CACHED/FRESH: the environment's generation (0: not to be kept)
  char *env;               // malloc'd block: read for FRESH and EXEC, for CACHED only by vsf_env_read
  size_t env_len;
  int32_t tid;
  vsf_entry_t *entry;      // the caller's entry, claimed from vsf_env_open to vsf_env_close
  int cached;              // the entry is the table's (else a temporary one, freed at close)
} vsf_env_t;
int vsf_cache_init (uint32_t max);
// Which rule lets a link owned by `owner` read the environment of a follower with fs uid `follower`.
int vsf_link_owner_rule (uint32_t owner, uint32_t follower);
// Finds out which environment caller `tid` (with its request's fs ids) means for a link owned by
// `link_owner`: its source and generation, the block when it had to be read (FRESH, EXEC). `use_cache` 0:
// the caller table is neither read nor kept (resolve --explain).
void vsf_env_open (vsf_env_t *v, uint32_t tid, uint32_t uid, uint32_t gid, uint32_t link_owner, int use_cache);
// The block of a CACHED environment, read now (when no kept answer did); if its program image went away
// meanwhile, what the caller's environment is now (source and generation may change).
void vsf_env_read (vsf_env_t *v);
void vsf_env_close (vsf_env_t *v);  // gives the entry back; the block stays the caller's of vsf_env_open
uint32_t vsf_cache_entries (void);
int vsf_has_reference (const char *target, size_t len);

// memo.c: answers JS computed, keyed by exactly what they depend on; the key is built here and nowhere else.
// Environment generations are 64-bit: a caller's generation is never given again while the daemon runs.
#define VSF_GEN_NO_ENV UINT64_MAX          // the generation under which expansions without an environment are kept
#define VSF_GEN_NAMES (UINT64_MAX - 1)     // ... the variables a target names (a pending exec's key)
#define VSF_GEN_EXEC (UINT64_MAX - 2)      // ... and expansions for a pending exec, by the values of those variables
#define VSF_GEN_RESERVED VSF_GEN_EXEC      // callers.c gives no generation at or above this one
// A key: the generation whose answers (an environment's, VSF_GEN_NO_ENV or VSF_GEN_EXEC) and the bytes
// (the link's target; for a pending exec, the target and the values of the variables it names).
typedef struct {
  uint64_t generation;
  size_t len;
  char bytes[VSF_TARGET_MAX];
} vsf_memo_key_t;
// What an answer was asked with: the caller's environment (vsf_env_t's source, generation and, for a
// pending exec, block) and the link's target.
typedef struct {
  int source;
  uint64_t generation;
  const char *env;
  size_t env_len;
  const char *target;
  size_t target_len;
} vsf_question_t;
// The key to look an answer up by; 0 when none can be (an environment without a generation, a pending exec
// whose target's names are not known yet).
int vsf_memo_key (vsf_memo_key_t *k, const vsf_question_t *q);
// The key to keep an answer by, given the names of the variables it used (NUL-separated; a pending exec's
// key is made of their values, and the names are kept for the next lookup). 0: not to be kept.
int vsf_memo_key_used (vsf_memo_key_t *k, const vsf_question_t *q, const char *names, size_t names_len, uint32_t defaults_generation);
// `project`: 0 for an answer that does not depend on the caller's project files, else the project state it
// was made in. `flags` VSF_HIT_PROJECT: a project file answered (for status). A hit returns 1 | its flags.
#define VSF_HIT_PROJECT 2
int vsf_memo_get (const vsf_memo_key_t *k, uint32_t project, char *exp, size_t *exp_len);
void vsf_memo_put (const vsf_memo_key_t *k, uint32_t defaults_generation, uint32_t project, uint32_t flags, const char *exp, size_t exp_len);
uint32_t vsf_defaults_generation (void);
uint32_t vsf_defaults_changed (void);

// links.c: symlink targets, kept by the link's identity (reading one touches its atime; lstat must not).
// The target of the symlink (pfd, name) whose lstat is `st` (NULL: read it in any case), into target[].
ssize_t vsf_link_target (int pfd, const char *name, const struct stat *st, char *target);
// Keeps `target` for the link (pfd, name) as it is now (after a change of its times).
void vsf_link_target_keep (int pfd, const char *name, const char *target, size_t len);

// resolve.c: how a variant link is answered (the spine).
typedef struct {
  int pfd; const char *name;  // the link: an opened parent and its name
  const struct stat *st;      // getattr: its lstat; readlink: NULL
  vsf_creds_t *creds;         // the caller's credentials this thread holds (creds.c)
} vsf_link_t;
// Answers getattr/readlink of a link for the request's caller; or leaves the question in the slot for
// JS and returns VSF_RESOLVE_PASS.
#define VSF_RESOLVE_PASS INT32_MIN
int vsf_resolve_link (vsf_request_t *r, vsf_slot_t *slot, const vsf_link_t *link);
void vsf_resolve_reset (vsf_slot_t *slot);  // before each request: the previous question's blocks and share
// JS's answer to a question left in the slot: what the link expands to and what it used.
typedef struct {
  const char *exp; size_t exp_len;  // exp_len may exceed VSF_TARGET_MAX - 1 (too long: exp is not read)
  const char *names; size_t names_len;  // the variables the target names, NUL-separated
  uint32_t scopes;                  // enum vsf_scope: which scopes answered
  uint32_t defaults_generation;     // the mount defaults it was made with
  int keep;                         // 0: not to be kept (it used an install listing that is not watched)
} vsf_answer_t;
// Keeps the answer and shapes the reply in the slot (getattr: its stat; readlink: its target) through the
// function a kept answer's reply uses. The reply's result: -errno, 0 (getattr) or the target's length.
int vsf_resolve_answer (vsf_slot_t *slot, const vsf_answer_t *a);

// shares.c: at most VSF_SHARE_MAX resolutions in flight per caller fs uid; the next waits for one to
// finish, and is refused (EAGAIN) when none of that user's has finished for VSF_SHARE_WAIT_MS.
#define VSF_SHARE_MAX 16
#define VSF_SHARE_WAIT_MS 2000
int vsf_share_take (uint32_t uid);
void vsf_share_release (uint32_t uid);

// ops.c
int vsf_hook (vsf_request_t *r, char *slot);
// lowlevel.c
extern const vsf_lowlevel_t vsf_lowlevel;
uint64_t vsf_inodes (void);  // the inode table's entries besides the root: what the kernel still references

#endif
