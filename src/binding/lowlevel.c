// The FUSE operations on libfuse's low-level API, answered on the FUSE worker thread that received them.
// Shaped like libfuse's example/passthrough_ll.c: an inode table keyed by the store's (dev, ino), each
// entry holding an O_PATH fd on its inode and the kernel's lookup count; one short function per operation;
// the table at the bottom. What the low-level API gives that the high-level one cannot: a timeout per
// entry. Everything but a variant link is the same for every caller, so the kernel keeps it (its entry,
// its attributes, a missing name, a file's pages) as the mount's --cache mode allows; a variant link's
// attributes are never kept (each caller sees its own st_size) and its readlink always reaches the daemon
// (the kernel caches no symlink without FUSE_CACHE_SYMLINKS, which libfuse 2 never asks for). How a link is
// answered is resolve.c's; a question the memo cannot answer waits here for JS (vsf_js_t.pass).
//
// A root daemon serving other users (--allow-other) does every operation that names or opens a file with
// the caller's fs ids, groups and no capabilities (creds.c), as ops.c does.
#define FUSE_USE_VERSION 29
#define _FILE_OFFSET_BITS 64
#include "internal.h"
#include <fuse_lowlevel.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

static const vsf_js_t *js;  // set once by bind(), before any mount

// ---- the inode table ------------------------------------------------------------------------------------

typedef struct inode {
  struct inode *next;       // its hash chain (mu)
  int fd;                   // O_PATH | O_NOFOLLOW on the inode in the store
  dev_t dev;
  ino_t ino;
  uint64_t nlookup;         // the kernel's references (mu); at 0 the entry goes
  int variant;              // a symlink whose target holds a reference: its attributes are never kept
  struct timespec mtime;    // the file as the last open found it (mu): its pages are kept while unchanged
  off_t size;
  int opened;
} inode_t;

#define BUCKETS 65536
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;  // guards the table and every entry's mu fields; a leaf
static inode_t *buckets[BUCKETS];
static inode_t root = { .fd = -1, .nlookup = 1 };
static _Atomic uint64_t count;  // entries besides the root (status: inodes)

uint64_t vsf_inodes (void) { return atomic_load(&count); }

static size_t bucket (dev_t dev, ino_t ino) { return (size_t) ((ino * 0x9e3779b97f4a7c15ull) ^ dev) % BUCKETS; }

static inode_t *inode_of (fuse_ino_t ino) { return ino == FUSE_ROOT_ID ? &root : (inode_t *) (uintptr_t) ino; }
static fuse_ino_t id_of (inode_t *in) { return in == &root ? FUSE_ROOT_ID : (fuse_ino_t) (uintptr_t) in; }

// The entry for the inode `fd` is open on (taking fd, or closing it when the inode has one), with one more
// lookup; NULL when out of memory (fd closed).
static inode_t *remember (int fd, const struct stat *st, int variant) {
  pthread_mutex_lock(&mu);
  inode_t *in;
  if (st->st_dev == root.dev && st->st_ino == root.ino) in = &root;
  else for (in = buckets[bucket(st->st_dev, st->st_ino)]; in != NULL && !(in->dev == st->st_dev && in->ino == st->st_ino); in = in->next) {}
  if (in != NULL) {
    in->nlookup++;
    pthread_mutex_unlock(&mu);
    close(fd);
    return in;
  }
  in = calloc(1, sizeof *in);
  if (in != NULL) {
    *in = (inode_t) { .fd = fd, .dev = st->st_dev, .ino = st->st_ino, .nlookup = 1, .variant = variant };
    size_t b = bucket(st->st_dev, st->st_ino);
    in->next = buckets[b];
    buckets[b] = in;
    atomic_fetch_add(&count, 1);
  }
  pthread_mutex_unlock(&mu);
  if (in == NULL) close(fd);
  return in;
}

static void forget_one (fuse_ino_t ino, uint64_t n) {
  inode_t *in = inode_of(ino);
  if (in == &root) return;
  pthread_mutex_lock(&mu);
  int gone = (in->nlookup -= n < in->nlookup ? n : in->nlookup) == 0;
  if (gone) {
    inode_t **p = &buckets[bucket(in->dev, in->ino)];
    while (*p != in) p = &(*p)->next;
    *p = in->next;
  }
  pthread_mutex_unlock(&mu);
  if (gone) { close(in->fd); free(in); atomic_fetch_sub(&count, 1); }
}

// ---- requests --------------------------------------------------------------------------------------------

// A request as the shared code (creds.c, resolve.c, the counters) knows it.
static vsf_request_t request (fuse_req_t req, int op) {
  const struct fuse_ctx *c = fuse_req_ctx(req);
  atomic_fetch_add_explicit(&vsf_op_counts[op], 1, memory_order_relaxed);
  return (vsf_request_t) { .op = (uint32_t) op, .pid = (uint32_t) c->pid, .uid = c->uid, .gid = c->gid, .umask = c->umask, .res = -EIO };
}

static void reply_err (fuse_req_t req, int res) { fuse_reply_err(req, res < 0 ? -res : 0); }

// "/proc/self/fd/N" for the calls that have no *at form on an O_PATH fd.
typedef struct { char s[40]; } proc_t;
static proc_t proc_of (int fd) { proc_t p; snprintf(p.s, sizeof p.s, "/proc/self/fd/%d", fd); return p; }

// A name at the backing root that is varsymfs's own (its data file): not there for reads, refused for writes.
static int reserved (fuse_ino_t parent, const char *name) { return parent == FUSE_ROOT_ID && vsf_is_reserved_name(name); }

// What the kernel may keep of an inode's attributes.
static double attr_timeout (const inode_t *in) { return in->variant ? 0 : vsf_config.attr_timeout; }

// ---- links ------------------------------------------------------------------------------------------------

// A link's answer for this caller (resolve.c): getattr's stat (st: its lstat) or readlink's target (st NULL,
// into r->buf). A question the memo cannot answer waits for JS's answer on this thread.
static int link_answer (fuse_req_t req, vsf_request_t *r, inode_t *in, const struct stat *st) {
  void *session = fuse_req_userdata(req);
  vsf_slot_t *slot = (vsf_slot_t *) js->slot(session);
  vsf_resolve_reset(slot);  // the previous question of this thread
  vsf_creds_t creds;
  int res = vsf_become_caller(r, &creds, 1);
  if (res < 0) return res;
  res = vsf_resolve_link(r, slot, &(vsf_link_t) { in->fd, "", st, &creds });
  vsf_restore_creds(&creds);
  return res == VSF_RESOLVE_PASS ? js->pass(session, r) : res;
}

// ---- lookup -----------------------------------------------------------------------------------------------

// The entry for `name` in `parent`, as the caller (creds held by the op): one more lookup of its inode.
static int do_lookup (inode_t *parent, const char *name, struct fuse_entry_param *e) {
  memset(e, 0, sizeof *e);
  int fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) { int err = errno; close(fd); return -err; }
  int variant = 0;
  if (S_ISLNK(e->attr.st_mode)) {
    char target[VSF_TARGET_MAX];
    ssize_t n = vsf_link_target(fd, "", &e->attr, target);
    variant = n > 0 && vsf_has_reference(target, (size_t) n);
  }
  inode_t *in = remember(fd, &e->attr, variant);
  if (in == NULL) return -ENOMEM;
  e->ino = id_of(in);
  e->attr_timeout = attr_timeout(in);
  e->entry_timeout = vsf_config.entry_timeout;
  return 0;
}

static void ll_lookup (fuse_req_t req, fuse_ino_t parent, const char *name) {
  vsf_request_t r = request(req, VSF_OP_GETATTR);
  struct fuse_entry_param e;
  vsf_creds_t creds;
  int res = reserved(parent, name) ? -ENOENT : vsf_become_caller(&r, &creds, 1);
  if (res == 0) { res = do_lookup(inode_of(parent), name, &e); vsf_restore_creds(&creds); }
  if (res == -ENOENT && vsf_config.negative_timeout > 0) {
    // A missing name, kept by the kernel for the negative timeout.
    memset(&e, 0, sizeof e);
    e.entry_timeout = vsf_config.negative_timeout;
    res = 0;
  }
  if (res < 0) reply_err(req, res);
  else fuse_reply_entry(req, &e);
}

static void ll_forget (fuse_req_t req, fuse_ino_t ino, unsigned long nlookup) {
  forget_one(ino, nlookup);
  fuse_reply_none(req);
}

static void ll_forget_multi (fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  for (size_t i = 0; i < count; i++) forget_one(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

// ---- attributes -------------------------------------------------------------------------------------------

static void reply_attr (fuse_req_t req, vsf_request_t *r, inode_t *in, struct stat *st) {
  if (S_ISLNK(st->st_mode) && in->variant) {
    struct stat out;
    r->stat = &out;
    int res = link_answer(req, r, in, st);
    if (res < 0) { reply_err(req, res); return; }
    fuse_reply_attr(req, &out, 0);
    return;
  }
  fuse_reply_attr(req, st, attr_timeout(in));
}

static void ll_getattr (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  vsf_request_t r = request(req, VSF_OP_GETATTR);
  inode_t *in = inode_of(ino);
  struct stat st;
  if (fstatat(in->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) { fuse_reply_err(req, errno); return; }
  reply_attr(req, &r, in, &st);
}

static void ll_readlink (fuse_req_t req, fuse_ino_t ino) {
  vsf_request_t r = request(req, VSF_OP_READLINK);
  char buf[VSF_TARGET_MAX];
  r.buf = buf;
  r.len = sizeof buf;
  int res = link_answer(req, &r, inode_of(ino), NULL);
  if (res < 0) reply_err(req, res);
  else fuse_reply_readlink(req, buf);
}

// An open file: its fd in the store and who opened it. A write the kernel sends on its own (the writeback
// of a shared mapping arrives as uid 0, pid 0) is charged to the opener, not to the daemon: as the user
// whose write(2) was refused, it gets no reserved blocks and counts against that user's quota.
typedef struct { int fd; uint32_t uid, gid; } file_t;
static file_t *file_of (const struct fuse_file_info *fi) { return (file_t *) (uintptr_t) fi->fh; }

// The set-id bits the kernel's FUSE client asks to clear before a write, truncate or fallocate by a caller
// without CAP_FSETID (fuse_setattr without handle_killpriv, which libfuse 2 cannot ask for): setuid, and
// setgid with group-execute. It sends that as a chmod from the writer, which the store refuses to anyone
// but the owner, failing the write. Such a chmod from a caller who may write the file is answered
// without changing anything: the write or truncate that follows runs as the caller without CAP_FSETID, so
// the store clears the bits itself, by its own rule.
static int is_kill_suid (mode_t now, mode_t want) {
  mode_t kill = (now & S_ISUID) | ((now & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) ? S_ISGID : 0);
  mode_t change = (now ^ want) & 07777;
  return S_ISREG(now) && change != 0 && (change & ~kill) == 0;
}

static int set_mode (inode_t *in, const struct stat *now, mode_t want) {
  if (S_ISLNK(now->st_mode)) return -EOPNOTSUPP;
  proc_t p = proc_of(in->fd);
  if (chmod(p.s, want) == 0) return 0;
  int e = -errno;
  return e == -EPERM && is_kill_suid(now->st_mode, want) && faccessat(AT_FDCWD, p.s, W_OK, AT_EACCESS) == 0 ? 0 : e;
}

// A symlink is read (touching its atime) before its times are set, and kept under its new identity, so
// that the lstat after it reports the times just set. A symlink's times are set on its O_PATH fd (its
// /proc/self/fd name would be followed).
static int set_times (inode_t *in, const struct stat *now, const struct timespec ts[2]) {
  if (!S_ISLNK(now->st_mode)) return utimensat(AT_FDCWD, proc_of(in->fd).s, ts, 0) == 0 ? 0 : -errno;
  char target[VSF_TARGET_MAX];
  ssize_t n = vsf_link_target(in->fd, "", NULL, target);
  if (utimensat(in->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return -errno;
  if (n >= 0) vsf_link_target_keep(in->fd, "", target, (size_t) n);
  return 0;
}

static int set_size (inode_t *in, struct fuse_file_info *fi, off_t size) {
  if (fi != NULL) return ftruncate(file_of(fi)->fd, size) == 0 ? 0 : -errno;
  int fd = open(proc_of(in->fd).s, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat st;
  int res = fstat(fd, &st) != 0 ? -errno : !S_ISREG(st.st_mode) ? -EIO : ftruncate(fd, size) == 0 ? 0 : -errno;
  close(fd);
  return res;
}

static void ll_setattr (fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  vsf_request_t r = request(req, (to_set & FUSE_SET_ATTR_SIZE) ? VSF_OP_TRUNCATE : (to_set & FUSE_SET_ATTR_MODE) ? VSF_OP_CHMOD : (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) ? VSF_OP_CHOWN : VSF_OP_UTIMENS);
  inode_t *in = inode_of(ino);
  vsf_creds_t creds;
  int res = vsf_become_caller(&r, &creds, 1);
  if (res < 0) { reply_err(req, res); return; }
  struct stat now;
  if (fstatat(in->fd, "", &now, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) res = -errno;
  if (res == 0 && (to_set & FUSE_SET_ATTR_MODE)) res = set_mode(in, &now, attr->st_mode);
  if (res == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
    uid_t u = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t) -1;
    gid_t g = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t) -1;
    if (fchownat(in->fd, "", u, g, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) res = -errno;
  }
  if (res == 0 && (to_set & FUSE_SET_ATTR_SIZE)) res = set_size(in, fi, attr->st_size);
  if (res == 0 && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))) {
    struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
    if (to_set & FUSE_SET_ATTR_ATIME) ts[0] = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? (struct timespec) { .tv_nsec = UTIME_NOW } : attr->st_atim;
    if (to_set & FUSE_SET_ATTR_MTIME) ts[1] = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? (struct timespec) { .tv_nsec = UTIME_NOW } : attr->st_mtim;
    res = set_times(in, &now, ts);
  }
  vsf_restore_creds(&creds);
  if (res < 0) { reply_err(req, res); return; }
  if (fstatat(in->fd, "", &now, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) { fuse_reply_err(req, errno); return; }
  r.op = VSF_OP_GETATTR;
  reply_attr(req, &r, in, &now);
}

// ---- names: made, removed, moved -------------------------------------------------------------------------

// Runs `make` (a system call in the parent, as the caller), then answers with the new entry.
typedef int (*make_fn)(int pfd, const char *name, const void *arg);
static void make_entry (fuse_req_t req, int op, fuse_ino_t parent, const char *name, make_fn make, const void *arg) {
  vsf_request_t r = request(req, op);
  if (reserved(parent, name)) { fuse_reply_err(req, EPERM); return; }
  vsf_creds_t creds;
  int res = vsf_become_caller(&r, &creds, 1);
  if (res < 0) { reply_err(req, res); return; }
  struct fuse_entry_param e;
  res = make(inode_of(parent)->fd, name, arg);
  if (res == 0) res = do_lookup(inode_of(parent), name, &e);
  vsf_restore_creds(&creds);
  if (res < 0) reply_err(req, res);
  else fuse_reply_entry(req, &e);
}

typedef struct { mode_t mode; dev_t rdev; } node_t;
static int make_node (int pfd, const char *name, const void *arg) {
  const node_t *n = arg;
  return (S_ISDIR(n->mode) ? mkdirat(pfd, name, n->mode) : mknodat(pfd, name, n->mode, n->rdev)) == 0 ? 0 : -errno;
}
static int make_symlink (int pfd, const char *name, const void *target) { return symlinkat(target, pfd, name) == 0 ? 0 : -errno; }
static int make_link (int pfd, const char *name, const void *from) {
  // linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH, which a caller does not have: through /proc instead.
  return linkat(AT_FDCWD, proc_of(((const inode_t *) from)->fd).s, pfd, name, AT_SYMLINK_FOLLOW) == 0 ? 0 : -errno;
}

static void ll_mknod (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  make_entry(req, VSF_OP_MKNOD, parent, name, make_node, &(node_t) { mode, rdev });
}
static void ll_mkdir (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  make_entry(req, VSF_OP_MKDIR, parent, name, make_node, &(node_t) { mode | S_IFDIR, 0 });
}
static void ll_symlink (fuse_req_t req, const char *target, fuse_ino_t parent, const char *name) {
  make_entry(req, VSF_OP_SYMLINK, parent, name, make_symlink, target);
}
static void ll_link (fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name) {
  make_entry(req, VSF_OP_LINK, parent, name, make_link, inode_of(ino));
}

// libfuse's high-level API renamed a file unlinked while still open to .fuse_hiddenXXXX and deleted it at
// RELEASE; a store mounted by an earlier varsymfs may hold some. A directory holding only such files is
// removed with them (with the caller's rights: nothing it could not remove itself).
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

// Runs one system call on names as the caller and answers its result.
typedef struct { fuse_ino_t parent; const char *name; fuse_ino_t newparent; const char *newname; } names_t;
static void on_names (fuse_req_t req, int op, const names_t *n) {
  vsf_request_t r = request(req, op);
  if (reserved(n->parent, n->name) || (n->newname != NULL && reserved(n->newparent, n->newname))) { fuse_reply_err(req, EPERM); return; }
  vsf_creds_t creds;
  int res = vsf_become_caller(&r, &creds, 1);
  if (res < 0) { reply_err(req, res); return; }
  int pfd = inode_of(n->parent)->fd;
  switch (op) {
    case VSF_OP_UNLINK: res = unlinkat(pfd, n->name, 0) == 0 ? 0 : -errno; break;
    case VSF_OP_RMDIR:
      res = unlinkat(pfd, n->name, AT_REMOVEDIR) == 0 ? 0 : -errno;
      if (res == -ENOTEMPTY && only_hidden_files(pfd, n->name)) res = unlinkat(pfd, n->name, AT_REMOVEDIR) == 0 ? 0 : -errno;
      break;
    default: res = renameat(pfd, n->name, inode_of(n->newparent)->fd, n->newname) == 0 ? 0 : -errno; break;
  }
  vsf_restore_creds(&creds);
  reply_err(req, res);
}

static void ll_unlink (fuse_req_t req, fuse_ino_t parent, const char *name) { on_names(req, VSF_OP_UNLINK, &(names_t) { parent, name, 0, NULL }); }
static void ll_rmdir (fuse_req_t req, fuse_ino_t parent, const char *name) { on_names(req, VSF_OP_RMDIR, &(names_t) { parent, name, 0, NULL }); }
static void ll_rename (fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname) {
  on_names(req, VSF_OP_RENAME, &(names_t) { parent, name, newparent, newname });
}

// ---- open files -------------------------------------------------------------------------------------------

// Whether the kernel may keep the file's pages from before this open: by the --cache mode, and for auto
// while its size and mtime are what the last open found (a change behind the mount drops them).
static int keep_pages (inode_t *in, const struct stat *st) {
  pthread_mutex_lock(&mu);
  int same = in->opened && in->size == st->st_size && in->mtime.tv_sec == st->st_mtim.tv_sec && in->mtime.tv_nsec == st->st_mtim.tv_nsec;
  in->opened = 1;
  in->size = st->st_size;
  in->mtime = st->st_mtim;
  pthread_mutex_unlock(&mu);
  return vsf_config.pages == VSF_PAGES_ALWAYS || (vsf_config.pages == VSF_PAGES_UNCHANGED && same);
}

// Opens the inode (or creates `name` in it, a directory) for the caller. The kernel sends OPEN and CREATE
// only for regular files, but the store can change under it: something else is refused, and opening never
// blocks (a FIFO without a writer would hold this thread for good). O_DIRECT is dropped: libfuse's buffers
// are not aligned for it.
static int open_file (inode_t *in, const char *name, int flags, mode_t mode, struct stat *st) {
  flags = (flags & ~(O_NOCTTY | O_DIRECT)) | O_CLOEXEC;
  int fd = name != NULL ? openat(in->fd, name, flags | O_NOFOLLOW | O_NONBLOCK, mode) : open(proc_of(in->fd).s, (flags & ~(O_CREAT | O_EXCL)) | O_NONBLOCK);
  if (fd < 0) return -errno;
  if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) { close(fd); return -EIO; }
  if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags & ~(O_CREAT | O_EXCL | O_TRUNC)) != 0) { int e = errno; close(fd); return -e; }
  return fd;
}

static int keep_open (fuse_req_t req, int fd, struct fuse_file_info *fi) {
  const struct fuse_ctx *c = fuse_req_ctx(req);
  file_t *f = malloc(sizeof *f);
  if (f == NULL) { close(fd); return -ENOMEM; }
  *f = (file_t) { .fd = fd, .uid = c->uid, .gid = c->gid };
  fi->fh = (uint64_t) (uintptr_t) f;
  return 0;
}

static void ll_open (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  vsf_request_t r = request(req, VSF_OP_OPEN);
  inode_t *in = inode_of(ino);
  vsf_creds_t creds;
  int res = vsf_become_caller(&r, &creds, 1);
  if (res < 0) { reply_err(req, res); return; }
  struct stat st;
  int fd = open_file(in, NULL, fi->flags, 0, &st);
  vsf_restore_creds(&creds);
  if (fd >= 0) fi->keep_cache = keep_pages(in, &st);
  res = fd < 0 ? fd : keep_open(req, fd, fi);
  if (res < 0) reply_err(req, res);
  else if (fuse_reply_open(req, fi) != 0) { close(file_of(fi)->fd); free(file_of(fi)); }
}

static void ll_create (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi) {
  vsf_request_t r = request(req, VSF_OP_CREATE);
  if (reserved(parent, name)) { fuse_reply_err(req, EPERM); return; }
  vsf_creds_t creds;
  int res = vsf_become_caller(&r, &creds, 1);
  if (res < 0) { reply_err(req, res); return; }
  struct stat st;
  struct fuse_entry_param e;
  int fd = open_file(inode_of(parent), name, fi->flags | O_CREAT, mode, &st);
  res = fd < 0 ? fd : do_lookup(inode_of(parent), name, &e);
  vsf_restore_creds(&creds);
  if (res == 0) keep_pages(inode_of(e.ino), &st);
  if (res == 0) res = keep_open(req, fd, fi);
  else if (fd >= 0) close(fd);
  if (res < 0) reply_err(req, res);
  else if (fuse_reply_create(req, &e, fi) != 0) { close(file_of(fi)->fd); free(file_of(fi)); }
}

static void ll_read (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  request(req, VSF_OP_READ);
  struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
  buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
  buf.buf[0].fd = file_of(fi)->fd;
  buf.buf[0].pos = off;
  fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

// Writing to an open file: as the caller too (reserved blocks and quotas), without the group lookup; a
// writeback the kernel sends as no one (pid 0, uid 0) as the file's opener.
static void ll_write (fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off, struct fuse_file_info *fi) {
  vsf_request_t r = request(req, VSF_OP_WRITE);
  file_t *f = file_of(fi);
  vsf_creds_t creds;
  int res = r.pid == 0 && r.uid == 0 ? vsf_become_opener(f->uid, f->gid, &creds) : vsf_become_caller(&r, &creds, 0);
  if (res < 0) { reply_err(req, res); return; }
  ssize_t n = pwrite(f->fd, data, size, off);
  int e = errno;
  vsf_restore_creds(&creds);
  if (n < 0) fuse_reply_err(req, e);
  else fuse_reply_write(req, (size_t) n);
}

static void ll_release (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  request(req, VSF_OP_RELEASE);
  file_t *f = file_of(fi);
  close(f->fd);
  free(f);
  fuse_reply_err(req, 0);
}

static void ll_fsync (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  request(req, VSF_OP_FSYNC);
  int fd = file_of(fi)->fd;
  fuse_reply_err(req, (datasync ? fdatasync(fd) : fsync(fd)) == 0 ? 0 : errno);
}

// ---- directories: offsets from telldir, so a directory of any size lists in bounded memory ----------------

typedef struct {
  DIR *dp;
  struct dirent *entry;  // read but not yet sent
  off_t offset;
  int root;              // the backing root: hide the reserved name
} dir_t;
static dir_t *dir_of (const struct fuse_file_info *fi) { return (dir_t *) (uintptr_t) fi->fh; }

// Opened through /proc/self/fd: listing needs read permission only, as on the store itself.
static void ll_opendir (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  vsf_request_t r = request(req, VSF_OP_OPENDIR);
  vsf_creds_t creds;
  int res = vsf_become_caller(&r, &creds, 1);
  if (res < 0) { reply_err(req, res); return; }
  int fd = open(proc_of(inode_of(ino)->fd).s, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int e = errno;
  vsf_restore_creds(&creds);
  if (fd < 0) { fuse_reply_err(req, e); return; }
  dir_t *d = calloc(1, sizeof *d);
  if (d == NULL || (d->dp = fdopendir(fd)) == NULL) { close(fd); free(d); fuse_reply_err(req, ENOMEM); return; }
  d->root = ino == FUSE_ROOT_ID;
  fi->fh = (uint64_t) (uintptr_t) d;
  if (fuse_reply_open(req, fi) != 0) { closedir(d->dp); free(d); }
}

static void ll_readdir (fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, struct fuse_file_info *fi) {
  request(req, VSF_OP_READDIR);
  dir_t *d = dir_of(fi);
  char *buf = malloc(size);
  if (buf == NULL) { fuse_reply_err(req, ENOMEM); return; }
  if (offset != d->offset) {
    seekdir(d->dp, offset);
    d->entry = NULL;
    d->offset = offset;
  }
  size_t used = 0;
  int err = 0;
  for (;;) {
    if (d->entry == NULL) {
      errno = 0;
      d->entry = readdir(d->dp);
      if (d->entry == NULL) { err = errno; break; }
    }
    off_t next = telldir(d->dp);
    if (!(d->root && vsf_is_reserved_name(d->entry->d_name))) {
      struct stat st = { .st_ino = d->entry->d_ino, .st_mode = (mode_t) d->entry->d_type << 12 };
      size_t need = fuse_add_direntry(req, buf + used, size - used, d->entry->d_name, &st, next);
      if (need > size - used) break;
      used += need;
    }
    d->entry = NULL;
    d->offset = next;
  }
  if (err != 0 && used == 0) fuse_reply_err(req, err);
  else fuse_reply_buf(req, buf, used);
  free(buf);
}

static void ll_releasedir (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  request(req, VSF_OP_RELEASEDIR);
  dir_t *d = dir_of(fi);
  closedir(d->dp);
  free(d);
  fuse_reply_err(req, 0);
}

static void ll_fsyncdir (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  request(req, VSF_OP_FSYNCDIR);
  int fd = dirfd(dir_of(fi)->dp);
  fuse_reply_err(req, (datasync ? fdatasync(fd) : fsync(fd)) == 0 ? 0 : errno);
}

// ---- the rest ---------------------------------------------------------------------------------------------

static void ll_statfs (fuse_req_t req, fuse_ino_t ino) {
  request(req, VSF_OP_STATFS);
  struct statvfs sv;
  if (fstatvfs(root.fd, &sv) != 0) fuse_reply_err(req, errno);
  else fuse_reply_statfs(req, &sv);
}

// faccessat without AT_EACCESS would check the daemon's real ids, not the caller's fs ids.
static void ll_access (fuse_req_t req, fuse_ino_t ino, int mask) {
  vsf_request_t r = request(req, VSF_OP_ACCESS);
  vsf_creds_t creds;
  int res = vsf_become_caller(&r, &creds, 1);
  if (res == 0) { res = faccessat(AT_FDCWD, proc_of(inode_of(ino)->fd).s, mask, AT_EACCESS) == 0 ? 0 : -errno; vsf_restore_creds(&creds); }
  reply_err(req, res);
}

// Extended attributes, through /proc/self/fd (no *at form before Linux 6.13), as the caller. A symlink's
// /proc name would be followed: its xattrs are not served (as on most filesystems, user.* cannot be set
// on one anyway).
typedef struct { const char *name; const char *value; size_t size; int flags; } xattr_t;
static ssize_t on_xattr (fuse_req_t req, int op, fuse_ino_t ino, const xattr_t *x, char *out) {
  vsf_request_t r = request(req, op);
  inode_t *in = inode_of(ino);
  vsf_creds_t creds;
  int res = vsf_become_caller(&r, &creds, 1);
  if (res < 0) return res;
  struct stat st;
  proc_t p = proc_of(in->fd);
  ssize_t n;
  if (fstat(in->fd, &st) != 0) n = -errno;
  else if (S_ISLNK(st.st_mode)) n = op == VSF_OP_GETXATTR ? -ENODATA : op == VSF_OP_LISTXATTR ? 0 : -EPERM;
  else switch (op) {
    case VSF_OP_SETXATTR: n = setxattr(p.s, x->name, x->value, x->size, x->flags) == 0 ? 0 : -errno; break;
    case VSF_OP_GETXATTR: n = getxattr(p.s, x->name, x->size ? out : NULL, x->size); n = n < 0 ? -errno : n; break;
    case VSF_OP_LISTXATTR: n = listxattr(p.s, x->size ? out : NULL, x->size); n = n < 0 ? -errno : n; break;
    default:
      n = removexattr(p.s, x->name) == 0 ? 0 : -errno;
      // Likewise the file capabilities the kernel's FUSE client removes before a write (a removexattr from
      // the writer, which the store refuses without CAP_SETFCAP): from a caller who may write the regular
      // file, answered without a change; the write that follows drops them on the store.
      if (n == -EPERM && strcmp(x->name, "security.capability") == 0 && S_ISREG(st.st_mode) && faccessat(AT_FDCWD, p.s, W_OK, AT_EACCESS) == 0) n = 0;
      break;
  }
  vsf_restore_creds(&creds);
  return n;
}

static void reply_xattr (fuse_req_t req, ssize_t n, size_t size, const char *buf) {
  if (n < 0) fuse_reply_err(req, (int) -n);
  else if (size == 0) fuse_reply_xattr(req, (size_t) n);
  else fuse_reply_buf(req, buf, (size_t) n);
}

static void ll_setxattr (fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags) {
  reply_err(req, (int) on_xattr(req, VSF_OP_SETXATTR, ino, &(xattr_t) { name, value, size, flags }, NULL));
}
static void ll_getxattr (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  char *buf = size ? malloc(size) : NULL;
  if (size && buf == NULL) { fuse_reply_err(req, ENOMEM); return; }
  reply_xattr(req, on_xattr(req, VSF_OP_GETXATTR, ino, &(xattr_t) { name, NULL, size, 0 }, buf), size, buf);
  free(buf);
}
static void ll_listxattr (fuse_req_t req, fuse_ino_t ino, size_t size) {
  char *buf = size ? malloc(size) : NULL;
  if (size && buf == NULL) { fuse_reply_err(req, ENOMEM); return; }
  reply_xattr(req, on_xattr(req, VSF_OP_LISTXATTR, ino, &(xattr_t) { NULL, NULL, size, 0 }, buf), size, buf);
  free(buf);
}
static void ll_removexattr (fuse_req_t req, fuse_ino_t ino, const char *name) {
  reply_err(req, (int) on_xattr(req, VSF_OP_REMOVEXATTR, ino, &(xattr_t) { name, NULL, 0, 0 }, NULL));
}

// The backing root, the daemon's working directory (taken before the mount covered it); then JS's init.
static void ll_init (void *session, struct fuse_conn_info *conn) {
  struct stat st;
  root.fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root.fd >= 0 && fstat(root.fd, &st) == 0) { root.dev = st.st_dev; root.ino = st.st_ino; }
  js->init(session);
}

// ---- the table --------------------------------------------------------------------------------------------

static const struct fuse_lowlevel_ops ll_ops = {
  .init = ll_init,
  .lookup = ll_lookup, .forget = ll_forget, .forget_multi = ll_forget_multi,
  .getattr = ll_getattr, .setattr = ll_setattr, .readlink = ll_readlink,
  .mknod = ll_mknod, .mkdir = ll_mkdir, .symlink = ll_symlink, .link = ll_link,
  .unlink = ll_unlink, .rmdir = ll_rmdir, .rename = ll_rename,
  .open = ll_open, .create = ll_create, .read = ll_read, .write = ll_write, .release = ll_release, .fsync = ll_fsync,
  .opendir = ll_opendir, .readdir = ll_readdir, .releasedir = ll_releasedir, .fsyncdir = ll_fsyncdir,
  .statfs = ll_statfs, .access = ll_access,
  .setxattr = ll_setxattr, .getxattr = ll_getxattr, .listxattr = ll_listxattr, .removexattr = ll_removexattr,
};

static void bind (const vsf_js_t *j) { js = j; }

const vsf_lowlevel_t vsf_lowlevel = { &ll_ops, sizeof ll_ops, bind };
