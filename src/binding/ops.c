// The FUSE operations, answered on the FUSE worker thread that received them (vsf_hook). One short function
// per operation, each one system call in the backing store returning -errno, and one table; shaped like
// libfuse's example/passthrough.c. Only a variant link whose expansion is not in the memo goes to JS (the
// hook returns VSF_PASS with the slot filled); how a link is answered is resolve.c's.
//
// A root daemon serving other users (--allow-other) does every path operation with the caller's fs ids,
// groups and no capabilities (creds.c): the backing filesystem itself decides what the caller may do, new
// files are born the caller's, setgid directories and quotas apply, and no race can hand a caller a file
// it could not have opened itself.
#include "internal.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <stddef.h>
#include <sys/xattr.h>
#include <unistd.h>

_Atomic uint64_t vsf_op_counts[VSF_OP_COUNT];
_Atomic uint64_t vsf_counts[VSF_C_COUNT];

#define PASS INT_MIN  // an op function's "JS must answer this one"

// What an op function gets: the request, its slot, and its path(s) split into an opened parent and a name.
typedef struct {
  vsf_request_t *r;
  vsf_slot_t *slot;
  int pfd; const char *name;    // path
  int pfd2; const char *name2;  // dest (rename, link, symlink)
  vsf_creds_t *creds;           // the caller's credentials this thread holds (creds.c)
} call_t;

// A system call's result as a FUSE reply: -errno on failure (the call is evaluated once, before errno is read).
static inline int R (long result) { return result < 0 ? -errno : (int) result; }

// ---- links: getattr and readlink ------------------------------------------------------------------------

// How a link is answered is resolve.c's (the spine): its target, plain or variant, for this caller.
static int link_answer (call_t *c, const struct stat *st) {
  int res = vsf_resolve_link(c->r, c->slot, &(vsf_link_t) { c->pfd, c->name, st, c->creds });
  return res == VSF_RESOLVE_PASS ? PASS : res;
}

static int op_getattr (call_t *c) {
  struct stat st;
  if (fstatat(c->pfd, c->name, &st, AT_SYMLINK_NOFOLLOW) != 0) return -errno;
  if (S_ISLNK(st.st_mode)) return link_answer(c, &st);
  *c->r->stat = st;
  return 0;
}

static int op_readlink (call_t *c) { return link_answer(c, NULL); }

// ---- operations on an open file ---------------------------------------------------------------------

// An open file: its fd in the store and who opened it. A write the kernel sends on its own (the writeback
// of a shared mapping arrives as uid 0, pid 0) is charged to the opener, not to the daemon: as the user
// whose write(2) was refused, it gets no reserved blocks and counts against that user's quota.
typedef struct { int fd; uint32_t uid, gid; } file_t;
static file_t *file_of (const vsf_request_t *r) { return (file_t *) (uintptr_t) *r->fh; }
static int fh (const vsf_request_t *r) { return file_of(r)->fd; }
static int op_fgetattr (call_t *c) { return R(fstat(fh(c->r), c->r->stat)); }
static int op_read (call_t *c) { return R(pread(fh(c->r), c->r->buf, c->r->len, c->r->offset)); }
static int op_write (call_t *c) { return R(pwrite(fh(c->r), c->r->buf, c->r->len, c->r->offset)); }
static int op_release (call_t *c) {
  file_t *f = file_of(c->r);
  int r = R(close(f->fd));
  free(f);
  return r;
}
static int op_fsync (call_t *c) { return R(c->r->flags ? fdatasync(fh(c->r)) : fsync(fh(c->r))); }
static int op_ftruncate (call_t *c) { return R(ftruncate(fh(c->r), c->r->offset)); }

// ---- operations on a path ---------------------------------------------------------------------------

// The kernel sends OPEN and CREATE only for regular files (FIFOs and devices it opens itself), but the
// store can change under it: something else swapped in is refused, and opening never blocks (a FIFO
// without a writer would hold this thread for good). O_DIRECT is dropped: libfuse's buffers are not
// aligned for it, and the kernel already decides what the caller's own page cache does.
static int open_regular (call_t *c, int flags, mode_t mode) {
  flags = (flags & ~(O_NOCTTY | O_DIRECT)) | O_NOFOLLOW | O_CLOEXEC;
  int fd = openat(c->pfd, c->name, flags | O_NONBLOCK, mode);
  if (fd < 0) return -errno;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); return -EIO; }
  if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags & ~(O_CREAT | O_EXCL | O_TRUNC)) != 0) { int e = errno; close(fd); return -e; }
  return fd;
}

// The handle of a file open_regular opened (fd >= 0) for the caller; or its error.
static int keep_open (call_t *c, int fd) {
  if (fd < 0) return fd;
  file_t *f = malloc(sizeof *f);
  if (f == NULL) { close(fd); return -ENOMEM; }
  *f = (file_t) { .fd = fd, .uid = c->r->uid, .gid = c->r->gid };
  *c->r->fh = (uint64_t) (uintptr_t) f;
  return 0;
}

static int op_open (call_t *c) { return keep_open(c, open_regular(c, c->r->flags & ~(O_CREAT | O_EXCL), 0)); }
static int op_create (call_t *c) { return keep_open(c, open_regular(c, c->r->flags | O_CREAT, (mode_t) c->r->mode)); }

// faccessat without AT_EACCESS would check the daemon's real ids, not the caller's fs ids.
static int op_access (call_t *c) { return R(faccessat(c->pfd, c->name, (int) c->r->mode, AT_EACCESS | AT_SYMLINK_NOFOLLOW)); }
static int op_mknod (call_t *c) { return R(mknodat(c->pfd, c->name, (mode_t) c->r->mode, (dev_t) c->r->dev)); }
static int op_mkdir (call_t *c) { return R(mkdirat(c->pfd, c->name, (mode_t) c->r->mode)); }
static int op_unlink (call_t *c) { return R(unlinkat(c->pfd, c->name, 0)); }
static int op_rename (call_t *c) { return R(renameat(c->pfd, c->name, c->pfd2, c->name2)); }
static int op_link (call_t *c) { return R(linkat(c->pfd, c->name, c->pfd2, c->name2, 0)); }
// fuse-native passes symlink as (target, link path): the link is dest.
static int op_symlink (call_t *c) { return R(symlinkat(c->r->path, c->pfd2, c->name2)); }
static int op_chown (call_t *c) { return R(fchownat(c->pfd, c->name, (uid_t) (int32_t) c->r->owner_uid, (gid_t) (int32_t) c->r->owner_gid, AT_SYMLINK_NOFOLLOW)); }

// A symlink is read (touching its atime) before its times are set, and kept under its new identity, so
// that the lstat after it reports the times just set.
static int op_utimens (call_t *c) {
  struct timespec ts[2] = { c->r->times[0], c->r->times[1] };
  struct stat st;
  char target[VSF_TARGET_MAX];
  ssize_t n = fstatat(c->pfd, c->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode) ? vsf_link_target(c->pfd, c->name, NULL, target) : -1;
  int r = R(utimensat(c->pfd, c->name, ts, AT_SYMLINK_NOFOLLOW));
  if (r == 0 && n >= 0) vsf_link_target_keep(c->pfd, c->name, target, (size_t) n);
  return r;
}

static int op_truncate (call_t *c) {
  int fd = open_regular(c, O_WRONLY, 0);
  if (fd < 0) return fd;
  int r = R(ftruncate(fd, c->r->offset));
  close(fd);
  return r;
}

// An O_PATH fd on the exact inode (never a symlink's target), and its /proc/self/fd name for the calls
// that have no *at form (chmod before fchmodat2, xattrs before Linux 6.13).
static int open_inode (call_t *c, char *proc, size_t proc_size) {
  int fd = openat(c->pfd, c->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  snprintf(proc, proc_size, "/proc/self/fd/%d", fd);
  return fd;
}

// The set-id bits the kernel's FUSE client asks to clear before a write, truncate or fallocate by a caller
// without CAP_FSETID (fuse_setattr without handle_killpriv, which libfuse 2 cannot ask for): setuid, and
// setgid with group-execute. It sends that as a chmod from the writer, which the store refuses to anyone
// but the owner, failing the write. Such a chmod from a caller who may write the file is answered
// without changing anything: the write or truncate that follows runs as the caller without CAP_FSETID, so
// the store clears the bits itself, by its own rule, with no window in which the daemon's rights could
// undo a chmod of the owner's.
static int is_kill_suid (mode_t now, mode_t want) {
  mode_t kill = (now & S_ISUID) | ((now & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) ? S_ISGID : 0);
  mode_t change = (now ^ want) & 07777;  // the kill bits are set in `now`: a change there clears them
  return S_ISREG(now) && change != 0 && (change & ~kill) == 0;
}

static int op_chmod (call_t *c) {
  char proc[64];
  int fd = open_inode(c, proc, sizeof proc);
  if (fd < 0) return fd;
  struct stat st;
  mode_t want = (mode_t) c->r->mode;
  int r = fstat(fd, &st) != 0 ? -errno : S_ISLNK(st.st_mode) ? -EOPNOTSUPP : R(chmod(proc, want));
  if (r == -EPERM && is_kill_suid(st.st_mode, want) && faccessat(AT_FDCWD, proc, W_OK, AT_EACCESS) == 0) r = 0;
  close(fd);
  return r;
}

static int op_setxattr (call_t *c) {
  char proc[64];
  int fd = open_inode(c, proc, sizeof proc);
  if (fd < 0) return fd;
  int r = R(setxattr(proc, c->r->name, c->r->value, c->r->size, c->r->flags));
  close(fd);
  return r;
}

// The kernel's ERANGE when the caller's buffer is too small; the size when it asks (size 0).
static int op_getxattr (call_t *c) {
  char proc[64];
  int fd = open_inode(c, proc, sizeof proc);
  if (fd < 0) return fd;
  int r = R(getxattr(proc, c->r->name, c->r->size ? c->r->buf : NULL, c->r->size));
  close(fd);
  return r;
}

static int op_listxattr (call_t *c) {
  char proc[64];
  int fd = open_inode(c, proc, sizeof proc);
  if (fd < 0) return fd;
  int r = R(listxattr(proc, c->r->size ? c->r->buf : NULL, c->r->size));
  close(fd);
  return r;
}

// Likewise the file capabilities (security.capability) the kernel's FUSE client removes before a write
// (file_remove_privs: a removexattr from the writer, which the store refuses without CAP_SETFCAP, failing
// the write). From a caller who may write the regular file it is answered without changing anything: the
// write that follows, made as the caller, drops them on the store (the store's own kill-priv needs no right).
static int is_kill_priv (const char *name, int fd, const char *proc) {
  struct stat st;
  return strcmp(name, "security.capability") == 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && faccessat(AT_FDCWD, proc, W_OK, AT_EACCESS) == 0;
}

static int op_removexattr (call_t *c) {
  char proc[64];
  int fd = open_inode(c, proc, sizeof proc);
  if (fd < 0) return fd;
  int r = R(removexattr(proc, c->r->name));
  if (r == -EPERM && is_kill_priv(c->r->name, fd, proc)) r = 0;
  close(fd);
  return r;
}

// libfuse renames a file unlinked while still open to .fuse_hiddenXXXX and deletes it at RELEASE, which
// the kernel sends after close() has returned; so `rm -rf` right after writing can find a directory
// holding only such files. Remove them (with the caller's rights: nothing it could not remove itself) and
// say whether the directory held nothing else.
// libfuse's name for such a file: ".fuse_hidden" and 16 hex digits (lib/fuse.c hidden_name), nothing else.
static int is_fuse_hidden (const char *name) {
  if (strncmp(name, ".fuse_hidden", 12) != 0 || strlen(name) != 28) return 0;
  for (const char *p = name + 12; *p; p++) if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
  return 1;
}

static int only_hidden_files (int pfd, const char *name) {
  int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  DIR *dir = fdopendir(fd);
  if (dir == NULL) { close(fd); return 0; }
  int only = 1;
  struct dirent *de;
  while (only && (de = readdir(dir)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    if (!is_fuse_hidden(de->d_name)) only = 0;
  }
  if (only) {
    rewinddir(dir);
    while ((de = readdir(dir)) != NULL) {
      if (is_fuse_hidden(de->d_name) && unlinkat(dirfd(dir), de->d_name, 0) != 0) only = 0;
    }
  }
  closedir(dir);
  return only;
}

static int op_rmdir (call_t *c) {
  if (unlinkat(c->pfd, c->name, AT_REMOVEDIR) == 0) return 0;
  if (errno != ENOTEMPTY || !only_hidden_files(c->pfd, c->name)) return -errno;
  return R(unlinkat(c->pfd, c->name, AT_REMOVEDIR));
}

static int op_statfs (call_t *c) { return R(statvfs(".", c->r->statvfs)); }

// ---- directories: offsets from telldir, so a directory of any size lists in bounded memory -------------

typedef struct {
  DIR *dp;
  struct dirent *entry;  // read but not yet accepted by the filler
  off_t offset;
  int root;              // the backing root: hide the reserved name
} dir_t;

static int op_opendir (call_t *c) {
  const char *rel = vsf_relative(c->r->path);
  int fd = vsf_safe_open(rel, O_RDONLY | O_DIRECTORY, 0);
  if (fd < 0) return fd;
  dir_t *d = calloc(1, sizeof *d);
  if (d == NULL) { close(fd); return -ENOMEM; }
  d->dp = fdopendir(fd);
  if (d->dp == NULL) { int e = errno; close(fd); free(d); return -e; }
  d->root = strcmp(rel, ".") == 0;
  *c->r->fh = (uint64_t) (uintptr_t) d;
  return 0;
}

static int op_readdir (call_t *c) {
  dir_t *d = (dir_t *) (uintptr_t) *c->r->fh;
  if (c->r->offset != d->offset) {
    seekdir(d->dp, c->r->offset);
    d->entry = NULL;
    d->offset = c->r->offset;
  }
  for (;;) {
    if (d->entry == NULL) {
      errno = 0;
      d->entry = readdir(d->dp);
      if (d->entry == NULL) return -errno;
    }
    off_t next = telldir(d->dp);
    if (!(d->root && vsf_is_reserved_name(d->entry->d_name))) {
      struct stat st = { .st_ino = d->entry->d_ino, .st_mode = (mode_t) d->entry->d_type << 12 };
      if (c->r->filler(c->r->buf, d->entry->d_name, &st, next)) return 0;
    }
    d->entry = NULL;
    d->offset = next;
  }
}

static int op_releasedir (call_t *c) {
  dir_t *d = (dir_t *) (uintptr_t) *c->r->fh;
  closedir(d->dp);
  free(d);
  return 0;
}

static int op_fsyncdir (call_t *c) {
  dir_t *d = (dir_t *) (uintptr_t) *c->r->fh;
  return R(c->r->flags ? fdatasync(dirfd(d->dp)) : fsync(dirfd(d->dp)));
}

// ---- the table --------------------------------------------------------------------------------------

enum { HANDLE, PATH, PATH_AND_DEST, DEST, OWN };  // what an op names; OWN: it opens what it needs itself
typedef struct {
  int (*fn)(call_t *c);
  uint8_t names;
  uint8_t reads;   // a read-only op: a reserved name answers ENOENT (else EPERM)
} op_t;

static const op_t ops[VSF_OP_COUNT] = {
  [VSF_OP_GETATTR] = { op_getattr, PATH, 1 },      [VSF_OP_READLINK] = { op_readlink, PATH, 1 },
  [VSF_OP_FGETATTR] = { op_fgetattr, HANDLE, 1 },  [VSF_OP_ACCESS] = { op_access, PATH, 1 },
  [VSF_OP_OPEN] = { op_open, PATH, 1 },            [VSF_OP_CREATE] = { op_create, PATH, 0 },
  [VSF_OP_READ] = { op_read, HANDLE, 1 },          [VSF_OP_WRITE] = { op_write, HANDLE, 0 },
  [VSF_OP_RELEASE] = { op_release, HANDLE, 1 },
  [VSF_OP_FSYNC] = { op_fsync, HANDLE, 1 },        [VSF_OP_FTRUNCATE] = { op_ftruncate, HANDLE, 0 },
  [VSF_OP_TRUNCATE] = { op_truncate, PATH, 0 },    [VSF_OP_UTIMENS] = { op_utimens, PATH, 0 },
  [VSF_OP_CHMOD] = { op_chmod, PATH, 0 },          [VSF_OP_CHOWN] = { op_chown, PATH, 0 },
  [VSF_OP_MKNOD] = { op_mknod, PATH, 0 },          [VSF_OP_MKDIR] = { op_mkdir, PATH, 0 },
  [VSF_OP_UNLINK] = { op_unlink, PATH, 0 },        [VSF_OP_RMDIR] = { op_rmdir, PATH, 0 },
  [VSF_OP_RENAME] = { op_rename, PATH_AND_DEST, 0 }, [VSF_OP_LINK] = { op_link, PATH_AND_DEST, 0 },
  [VSF_OP_SYMLINK] = { op_symlink, DEST, 0 },
  [VSF_OP_SETXATTR] = { op_setxattr, PATH, 0 },    [VSF_OP_GETXATTR] = { op_getxattr, PATH, 1 },
  [VSF_OP_LISTXATTR] = { op_listxattr, PATH, 1 },  [VSF_OP_REMOVEXATTR] = { op_removexattr, PATH, 0 },
  [VSF_OP_STATFS] = { op_statfs, OWN, 1 },
  [VSF_OP_OPENDIR] = { op_opendir, OWN, 1 },       [VSF_OP_READDIR] = { op_readdir, HANDLE, 1 },
  [VSF_OP_RELEASEDIR] = { op_releasedir, HANDLE, 1 }, [VSF_OP_FSYNCDIR] = { op_fsyncdir, HANDLE, 1 },
};

static int run (const op_t *op, call_t *c) {
  vsf_request_t *r = c->r;
  int needs_path = op->names == PATH || op->names == PATH_AND_DEST || (op->names == OWN && r->op == VSF_OP_OPENDIR);
  int needs_dest = op->names == PATH_AND_DEST || op->names == DEST;
  if ((needs_path && r->path == NULL) || (needs_dest && r->dest == NULL) || (op->names == HANDLE && r->fh == NULL)) return -EIO;
  if ((needs_path && vsf_is_reserved(r->path)) || (needs_dest && vsf_is_reserved(r->dest))) return op->reads ? -ENOENT : -EPERM;
  vsf_creds_t creds;
  c->creds = &creds;
  if (op->names == HANDLE) {
    // Writing to an open file: as the caller too (reserved blocks and quotas), without the group lookup;
    // a writeback the kernel sends as no one (pid 0, uid 0) as the file's opener.
    if (r->op != VSF_OP_WRITE && r->op != VSF_OP_FTRUNCATE) return op->fn(c);
    int e = r->pid == 0 && r->uid == 0 && r->op == VSF_OP_WRITE ? vsf_become_opener(file_of(r)->uid, file_of(r)->gid, &creds) : vsf_become_caller(r, &creds, 0);
    if (e < 0) return e;
    int res = op->fn(c);
    vsf_restore_creds(&creds);
    return res;
  }
  int e = vsf_become_caller(r, &creds, 1);
  if (e < 0) return e;
  int res = 0;
  c->pfd = c->pfd2 = AT_FDCWD;
  if (op->names == PATH || op->names == PATH_AND_DEST) res = vsf_open_parent(vsf_relative(r->path), &c->pfd, &c->name);
  if (res == 0 && needs_dest) res = vsf_open_parent(vsf_relative(r->dest), &c->pfd2, &c->name2);
  if (res == 0) res = op->fn(c);
  vsf_close_parent(c->pfd);
  vsf_close_parent(c->pfd2);
  vsf_restore_creds(&creds);
  return res;
}

// The hook fuse-native runs for every request (varsymfs.h).
int vsf_hook (vsf_request_t *r, char *raw) {
  vsf_slot_t *slot = (vsf_slot_t *) raw;
  vsf_resolve_reset(slot);  // the previous request's question, on this thread
  if (r->op >= VSF_OP_COUNT || ops[r->op].fn == NULL) return VSF_PASS;  // init: JS's
  atomic_fetch_add_explicit(&vsf_op_counts[r->op], 1, memory_order_relaxed);
  call_t c = { .r = r, .slot = slot, .pfd = AT_FDCWD, .pfd2 = AT_FDCWD };
  int res = run(&ops[r->op], &c);
  if (res == PASS) return VSF_PASS;
  r->res = res;
  return VSF_DONE;
}
