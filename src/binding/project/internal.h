// What the project scope's files share among themselves (their interface to the rest of the binding is
// the vsf_project_* of ../internal.h). The scope's mechanics, one concern per file:
//
//   scope.c     the interface: one request's project scope, from new to free; the order of a walk; give_up
//   walk.c      which project files the caller's working directory sees, from its pin up to its root (locate,
//               the directories, the files as the caller), and the state that names what was seen
//   contents.c  the files' bytes for JS, read as the caller
//   trust.c     which project files count for a caller (judge)
//   reach.c     how the daemon reaches the caller's directories and files: paths, /proc, openat2, identities
//   mounts.c    the mount table: which directories are on a network or FUSE filesystem, and FUSE mounters
//   threads.c   a walk on a thread of its own, bounded by --project-timeout and per user
//   fast.c      the fast path: a program image's walk, kept while nothing on it changes
//   watch.c     the inotify watches and the epoch they (and the mount table) move
//   dirs.c      which project files a directory holds, kept by its identity and ctime
//   states.c    the interned states
//
// TS owns every rule about project files (formats, precedence, names: they arrive by configure(), in
// precedence order); C only finds files, proves they are unchanged, and reads them as the caller. Why an
// answer is never stale: docs/semantics.md; the locks and their one order: docs/design.md, "Locks".
#ifndef VARSYMFS_PROJECT_INTERNAL_H
#define VARSYMFS_PROJECT_INTERNAL_H

#include "../internal.h"
#include <limits.h>
#include <pthread.h>

// Nothing here leaves the addon.
#pragma GCC visibility push(hidden)

#define RECORDS_MAX 65536         // project files on one walk (32 names x 2048 directories)
#define CONTENTS_MAX (16u << 20)  // bytes handed to JS for one walk

typedef struct {
  uint16_t depth, name;   // directory (0: the working directory) and name index
  int32_t error;          // the caller's stat: 0 or errno
  uint64_t dev, ino;
  int64_t cs, cns, ms, mns, size;
  uint32_t mode, uid, gid;
  uint32_t relative;      // found from the caller's working directory ("../../name"): see walk_files
  uint32_t link;          // a symlink (outside the mount): the link and its target both had to be trusted
  uint32_t verdict;       // 0: counts for this caller (judge()); else why not (VSF_FILE_UNTRUSTED, _WRITABLE): never read
  uint32_t owner;         // not trusted: the uid that made it so (the link's or the file's owner)
} record_t;

typedef struct { uint64_t dev, ino, mnt; } ident_t;

// One request's walk, touched by the requesting thread alone, except while timed() has handed it to a walk
// thread. Then `mu` guards `done` (`cv` signals it) and what locate() writes, which that thread may write
// again (walk_dirs_settled) while the requesting thread, given up, copies it (give_up): cwd, cwd_len,
// cwd_fd, pin_id, root_len, ends, ndirs, local_dirs. `mu` is taken before mnt_mu (locate calls on_remote):
// docs/design.md, "Locks". Once `done` is seen under `mu`, p is the requesting thread's again.
struct vsf_project {
  _Atomic int refs;         // the requesting thread's and a walk thread's: the last release() frees
  vsf_request_t req;        // the caller (pid, uid, gid) for creds.c
  int act;                  // as the caller (a root daemon)
  int walked, status, remote, unsettled, links, inside;
  int fast;                 // answered by the fast path: no walk made (contents need one)
  int must_walk;            // contents are wanted: the fast path cannot give them
  int watched;              // every directory of the walk is watched (the fast path may keep it)
  int have_cwd;             // cwd: the working directory's identity when the request began
  ident_t cwd_id, root_id;  // ... and the root's (the fast path only)
  int cwd_fd;               // the working directory locate() named (O_PATH), pinned: -1 before; per request (see mu)
  ident_t pin_id;           // ... and its identity
  uint64_t generation;      // the caller's environment generation (its program image), 0 if not cached
  uint64_t epoch;           // the watch epoch the walk began in
  uint32_t state, ndirs, nrec, rec_cap, nwant;
  uint32_t local_dirs;      // the nearest directories of the walk, on local filesystems only (locate)
  uint32_t *want;           // (depth, name) pairs the walk of the directories found
  record_t *rec;
  size_t cwd_len;
  size_t root_len;          // the caller's root: the walk stops there (1: "/")
  char *block;              // for JS (vsf_project_contents)
  size_t block_len;
  // a walk on its own thread
  pthread_mutex_t mu;       // guards done, and what locate() writes while a walk thread runs (above)
  pthread_cond_t cv;
  int done;
  // Filled as the walk goes (not cleared: most requests never walk).
  char cwd[PATH_MAX];       // the working directory as the daemon names it
  uint32_t ends[PATH_MAX / 2 + 1];  // each directory of the walk: cwd[0..ends[d]]
};

// scope.c
void release (vsf_project_t *p);

// walk.c
int nested (const char *name);
int relevant_name (const char *name);
int locate (vsf_project_t *p);
void walk_dirs (vsf_project_t *p);
void walk_dirs_settled (vsf_project_t *p);
void walk_files (vsf_project_t *p);
void walk (vsf_project_t *p);

// contents.c
void contents (vsf_project_t *p);

// trust.c
uint32_t judge (const vsf_project_t *p, uint32_t d, const struct statx *st, uint32_t *owner);

// reach.c
int join (char *buf, const char *dir, size_t len, const char *name);
int relative (char *buf, uint32_t depth, const char *name);
int sx (int dfd, const char *path, int flags, struct statx *st);
int inside_mount (const char *dir, size_t len);
const char *backing (const char *dir, size_t len);
int stat_beneath (int dfd, const char *name, struct statx *st);
int open_proc_dir (uint32_t tid, const char *what);
int open_in_root_how (vsf_project_t *p, int root_fd, const char *full, int flags, uint64_t resolve);
int open_in_root (vsf_project_t *p, int root_fd, const char *full, int flags);
int proc_identity (uint32_t tid, const char *what, ident_t *id);
int cwd_identity (uint32_t tid, ident_t *id);
int fd_identity (int fd, ident_t *id);
int same_ident (const ident_t *a, const ident_t *b);

// mounts.c
int above (const char *prefix, size_t plen, const char *path, size_t len);
size_t on_remote (const char *path, size_t len);
uint32_t mount_fuse_user (uint32_t tid, uint64_t id);
void mounts_poll (void);

// threads.c
int timed (vsf_project_t *p, void (*fn) (vsf_project_t *));

// fast.c
// Guards the kept walks (fast.c: fast, and its cache's clock) and the watches (watch.c: inotify_fd, max_wd,
// watches, and the reading of their queue). Must be acquired *before* mnt_mu (current_epoch polls the
// mount table under it): docs/design.md, "Locks".
extern pthread_mutex_t fast_mu;
int fast_get (vsf_project_t *p);
void fast_put (vsf_project_t *p);

// watch.c
extern _Atomic uint64_t epoch;  // bumped by any change that can alter a walk (a watch's event, a mount)
uint64_t current_epoch (void);  // with fast_mu held
int watch (const char *dir);
int watch_beneath (const char *dir, size_t len, const char *name);

// dirs.c
int dir_get (const struct statx *st, uint32_t *mask, uint32_t *links);
void dir_put (const struct statx *st, uint32_t mask, uint32_t links);

// states.c
uint32_t intern (const char *blob, size_t len);

#pragma GCC visibility pop

#endif
