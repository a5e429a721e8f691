// varsymfs_native: the few system calls Node's fs module lacks (xattrs, mknod, utimensat with
// nanoseconds) and the caller probe of the resolution hot path, each run on libuv's thread pool so that
// a slow backing store or a stuck process never blocks the JS thread that serves the mount.
// start() calls take a callback(result), result >= 0 or -errno, like a FUSE reply.
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <stdio.h>
#include <stdint.h>
#include <pthread.h>
#include "execenv_client.h"  // varsymfs exec-env helper (issue 13)
#include "execenv_napi.h"

// ---- path operations ---------------------------------------------------------------------------------
// Every path is relative to the daemon's working directory (the backing root). The parent directory is
// opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): no symlink in the backing store is ever
// followed on a caller's behalf, even when one is swapped in for a directory between the kernel's lookup
// and our call, and nothing outside the backing root is reached. The last component is acted on with a
// no-follow *at call.
#include <dirent.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

enum op {
  OP_GETXATTR, OP_SETXATTR, OP_LISTXATTR, OP_REMOVEXATTR, OP_MKNOD, OP_UTIMENS,
  OP_LSTAT, OP_READLINK, OP_OPEN, OP_MKDIR, OP_SYMLINK, OP_UNLINK, OP_RMDIR, OP_RENAME, OP_LINK,
  OP_CHMOD, OP_CHOWN, OP_TRUNCATE, OP_ACCESS, OP_READDIR
};

typedef struct {
  enum op op;
  char *path;
  char *path2;      // rename/link destination, symlink target, or xattr name
  void *data;       // output or value buffer: memory of a JS Buffer kept alive by data_ref
  size_t size;
  int64_t num[4];
  ssize_t result;
  char *extra;      // readdir: NUL-separated names (malloc'd)
  size_t extra_len;
  napi_ref callback;
  napi_ref data_ref;
  napi_async_work work;
} call_t;

static char *dup_string (napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

#define SAFE_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

// Opens `path` beneath the working directory without following any symlink.
static int safe_open (const char *path, int flags, mode_t mode) {
  struct open_how how = { .flags = (uint64_t) (flags | O_CLOEXEC), .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0, .resolve = SAFE_RESOLVE };
  long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
  return fd < 0 ? -errno : (int) fd;
}

// Splits "a/b/c" into a safely opened parent ("a/b") and the last name ("c"). "." and "x" use the working
// directory itself. *pfd is AT_FDCWD or an fd to close.
static int open_parent (const char *path, int *pfd, const char **name) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL) { *pfd = AT_FDCWD; *name = path; return 0; }
  char *parent = strndup(path, (size_t) (slash - path));
  int fd = safe_open(parent, O_PATH | O_DIRECTORY, 0);
  free(parent);
  if (fd < 0) return fd;
  *pfd = fd;
  *name = slash + 1;
  return 0;
}

static void close_parent (int pfd) { if (pfd != AT_FDCWD) close(pfd); }

static void put64 (uint32_t *ints, int i, uint64_t v) { ints[i] = (uint32_t) v; ints[i + 1] = (uint32_t) (v >> 32); }

// The stat layout of the patched fuse-native (fuse-native.c populate_stat).
static void encode_stat (const struct stat *st, uint32_t *ints) {
  ints[0] = st->st_mode; ints[1] = st->st_uid; ints[2] = st->st_gid;
  put64(ints, 3, (uint64_t) st->st_size);
  ints[5] = (uint32_t) st->st_dev; ints[6] = (uint32_t) st->st_nlink;
  put64(ints, 7, st->st_ino);
  ints[9] = (uint32_t) st->st_rdev; ints[10] = (uint32_t) st->st_blksize;
  put64(ints, 11, (uint64_t) st->st_blocks);
  put64(ints, 13, (uint64_t) st->st_atim.tv_sec); ints[15] = (uint32_t) st->st_atim.tv_nsec;
  put64(ints, 16, (uint64_t) st->st_mtim.tv_sec); ints[18] = (uint32_t) st->st_mtim.tv_nsec;
  put64(ints, 19, (uint64_t) st->st_ctim.tv_sec); ints[21] = (uint32_t) st->st_ctim.tv_nsec;
}

// xattrs have no *at calls before Linux 6.13: act through /proc/self/fd of a safely opened O_PATH fd.
static ssize_t xattr_op (call_t *c) {
  int pfd; const char *name;
  int r = open_parent(c->path, &pfd, &name);
  if (r < 0) return r;
  int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  close_parent(pfd);
  if (fd < 0) return -errno;
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  ssize_t n;
  switch (c->op) {
    case OP_GETXATTR: n = getxattr(proc, c->path2, c->data, c->size); break;
    case OP_SETXATTR: n = setxattr(proc, c->path2, c->data, c->size, (int) c->num[0]); break;
    case OP_LISTXATTR: n = listxattr(proc, c->data, c->size); break;
    default: n = removexattr(proc, c->path2); break;
  }
  n = n < 0 ? -errno : n;
  close(fd);
  return n;
}

static ssize_t readdir_op (call_t *c) {
  int fd = safe_open(c->path, O_RDONLY | O_DIRECTORY, 0);
  if (fd < 0) return fd;
  DIR *dir = fdopendir(fd);
  if (dir == NULL) { int e = errno; close(fd); return -e; }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  struct dirent *de;
  errno = 0;
  while ((de = readdir(dir)) != NULL) {
    size_t n = strlen(de->d_name) + 1;
    while (len + n > cap) { cap *= 2; buf = realloc(buf, cap); }
    memcpy(buf + len, de->d_name, n);
    len += n;
  }
  int e = errno;
  closedir(dir);
  if (e) { free(buf); return -e; }
  c->extra = buf;
  c->extra_len = len;
  return 0;
}

// libfuse renames a file unlinked while still open (its RELEASE comes asynchronously, after close()
// returns) to .fuse_hiddenXXXX and deletes it at release. So `rm -rf` right after writing can find a
// directory holding only such files. They are unlinked already as far as anyone can see, and the open
// file lives on through its fd; remove them (libfuse's later unlink then finds nothing) and say whether
// the directory held nothing else.
static int only_hidden_files (int pfd, const char *name) {
  int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  DIR *dir = fdopendir(fd);
  if (dir == NULL) { close(fd); return 0; }
  int only = 1;
  struct dirent *de;
  while (only && (de = readdir(dir)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    if (strncmp(de->d_name, ".fuse_hidden", 12) != 0) only = 0;
  }
  if (only) {
    rewinddir(dir);
    while ((de = readdir(dir)) != NULL) {
      if (strncmp(de->d_name, ".fuse_hidden", 12) == 0) unlinkat(dirfd(dir), de->d_name, 0);
    }
  }
  closedir(dir);
  return only;
}

static ssize_t path_op (call_t *c) {
  if (c->op <= OP_REMOVEXATTR) return xattr_op(c);
  if (c->op == OP_READDIR) return readdir_op(c);
  int pfd; const char *name;
  int r = open_parent(c->path, &pfd, &name);
  if (r < 0) return r;
  ssize_t n = 0;
  switch (c->op) {
    case OP_MKNOD: n = mknodat(pfd, name, (mode_t) c->num[0], (dev_t) c->num[1]); break;
    case OP_UTIMENS: {
      struct timespec ts[2] = { { c->num[0], c->num[1] }, { c->num[2], c->num[3] } };
      n = utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
      break;
    }
    case OP_LSTAT: {
      struct stat st;
      n = fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW);
      if (n == 0) encode_stat(&st, c->data);
      break;
    }
    case OP_READLINK: n = readlinkat(pfd, name, c->data, c->size); break;
    case OP_OPEN: n = openat(pfd, name, (int) c->num[0] | O_NOFOLLOW | O_CLOEXEC, (mode_t) c->num[1]); break;
    case OP_MKDIR: n = mkdirat(pfd, name, (mode_t) c->num[0]); break;
    case OP_SYMLINK: n = symlinkat(c->path2, pfd, name); break;
    case OP_UNLINK: n = unlinkat(pfd, name, 0); break;
    case OP_RMDIR:
      n = unlinkat(pfd, name, AT_REMOVEDIR);
      if (n < 0 && errno == ENOTEMPTY && only_hidden_files(pfd, name)) n = unlinkat(pfd, name, AT_REMOVEDIR);
      break;
    case OP_RENAME:
    case OP_LINK: {
      int pfd2; const char *name2;
      int r2 = open_parent(c->path2, &pfd2, &name2);
      if (r2 < 0) { close_parent(pfd); return r2; }
      n = c->op == OP_RENAME ? renameat(pfd, name, pfd2, name2) : linkat(pfd, name, pfd2, name2, 0);
      if (n < 0) n = -errno;
      close_parent(pfd2);
      close_parent(pfd);
      return n;
    }
    case OP_CHMOD: {
      // fchmodat cannot refuse a symlink before Linux 6.6's fchmodat2; chmod the exact inode through an
      // O_PATH fd instead (the kernel never sends chmod for a symlink).
      int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) { n = -1; break; }
      struct stat st;
      if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) { close(fd); close_parent(pfd); return -EOPNOTSUPP; }
      char proc[64];
      snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
      n = chmod(proc, (mode_t) c->num[0]);
      int e = errno;
      close(fd);
      errno = e;
      break;
    }
    case OP_CHOWN: n = fchownat(pfd, name, (uid_t) c->num[0], (gid_t) c->num[1], AT_SYMLINK_NOFOLLOW); break;
    case OP_TRUNCATE: {
      int fd = openat(pfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) { n = -1; break; }
      n = ftruncate(fd, (off_t) c->num[0]);
      int e = errno;
      close(fd);
      errno = e;
      break;
    }
    case OP_ACCESS: n = faccessat(pfd, name, (int) c->num[0], AT_SYMLINK_NOFOLLOW); break;
    default: n = -1; errno = EINVAL;
  }
  if (n < 0) n = -errno;
  close_parent(pfd);
  return n;
}

static void execute (napi_env env, void *arg) {
  call_t *c = arg;
  c->result = path_op(c);
}

static void complete (napi_env env, napi_status status, void *arg) {
  call_t *c = arg;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, global, argv[2];
  napi_get_reference_value(env, c->callback, &cb);
  napi_get_global(env, &global);
  napi_create_int64(env, status == napi_ok ? (int64_t) c->result : -EIO, &argv[0]);
  if (c->extra != NULL) {
    void *d;
    napi_create_buffer_copy(env, c->extra_len, c->extra, &d, &argv[1]);
  } else {
    napi_get_null(env, &argv[1]);
  }
  napi_call_function(env, global, cb, 2, argv, NULL);
  napi_close_handle_scope(env, scope);
  napi_delete_reference(env, c->callback);
  if (c->data_ref) napi_delete_reference(env, c->data_ref);
  napi_delete_async_work(env, c->work);
  free(c->path);
  free(c->path2);
  free(c->extra);
  free(c);
}

// start(op, path, path2|null, buffer|null, [n0, n1, n2, n3], callback(result, extraBuffer|null))
static napi_value start (napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  call_t *c = calloc(1, sizeof(call_t));
  int32_t op;
  napi_get_value_int32(env, argv[0], &op);
  c->op = (enum op) op;
  c->path = dup_string(env, argv[1]);
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (t == napi_string) c->path2 = dup_string(env, argv[2]);
  bool is_buffer = false;
  napi_is_buffer(env, argv[3], &is_buffer);
  if (is_buffer) {
    napi_get_buffer_info(env, argv[3], &c->data, &c->size);
    napi_create_reference(env, argv[3], 1, &c->data_ref);
  }
  for (uint32_t i = 0; i < 4; i++) {
    napi_value n;
    napi_get_element(env, argv[4], i, &n);
    napi_get_value_int64(env, n, &c->num[i]);
  }
  napi_create_reference(env, argv[5], 1, &c->callback);
  napi_value name;
  napi_create_string_utf8(env, "varsymfs_native", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, c, &c->work);
  napi_queue_async_work(env, c->work);
  return NULL;
}

// ---- caller probe ----------------------------------------------------------------------------------
// One thread-pool job answers "which environment does this request's process mean?":
//  1. If the thread is inside execve/execveat (read from /proc/<tid>/syscall), the environment passed to
//     the new program, read from /proc/<tid>/mem at the envp pointer: PROBE_EXEC.
//  2. Else, if the cached fd on /proc/<tid>/environ still reads (it returns 0 bytes once its program image
//     has exec'd or exited, so pid reuse and exec can never pass), PROBE_CACHED.
//  3. Else the environment is read afresh through a new fd, returned for the cache: PROBE_FRESH, or
//     PROBE_UNREADABLE when it cannot be opened (gone, another user's, pid 0).
// Reading /proc/<tid>/syscall and mem is safe here: readlink during exec's path walk runs before the kernel
// takes exec_update_lock; never call this from flush/release, which exec itself may send.
#define PROBE_CACHED 1
#define PROBE_FRESH 2
#define PROBE_EXEC 3
#define PROBE_UNREADABLE 4
#define PROBE_PLAIN 5        // the link holds no reference: no environment needed
#define PROBE_LINK_ERROR 6   // reading the link failed: link_result is -errno
#define ENV_MAX_BYTES (16u << 20)
#define EXEC_ENV_MAX_VARS 65536u

#if defined(__x86_64__)
#define NR_EXECVE 59
#define NR_EXECVEAT 322
#elif defined(__aarch64__)
#define NR_EXECVE 221
#define NR_EXECVEAT 281
#else
#define NR_EXECVE -1
#define NR_EXECVEAT -1
#endif

typedef struct {
  int32_t tid;
  char *link;          // the link to read first (relative to the backing root), or NULL
  char target[4097];
  ssize_t link_result;
  int32_t fd;          // in: cached environ fd or -1; out: fd to keep (FRESH) or -1
  int32_t sfd;         // in/out: fd on /proc/<tid>/syscall, or -1
  int status;
  int exec_denied;     // /proc/<tid>/syscall or mem was not readable (no ptrace-read access)
  char *env;
  size_t env_len;
  napi_ref callback;
  napi_async_work work;
} probe_t;

static int read_all_fd (int fd, char **out, size_t *out_len) {
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len == cap) {
      if (cap >= ENV_MAX_BYTES) break;
      cap *= 2;
      buf = realloc(buf, cap);
    }
    ssize_t n = pread(fd, buf + len, cap - len, (off_t) len);
    if (n < 0) { if (errno == EINTR) continue; free(buf); return -errno; }
    if (n == 0) break;
    len += (size_t) n;
  }
  *out = buf;
  *out_len = len;
  return 0;
}

// Returns 1 and fills envp when the thread is in execve/execveat, 0 when not, -errno when unreadable.
// *sfd is an fd on /proc/<tid>/syscall, opened here when -1 (the caller keeps or closes it).
static int pending_exec_envp (int32_t tid, int32_t *sfd, uint64_t *envp) {
  char text[512];
  if (*sfd < 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/syscall", tid);
    *sfd = open(path, O_RDONLY | O_CLOEXEC);
    if (*sfd < 0) return -errno;
  }
  ssize_t n = pread(*sfd, text, sizeof text - 1, 0);
  if (n < 0) return -errno;
  text[n] = 0;
  long nr;
  unsigned long long a[6];
  if (sscanf(text, "%ld 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx", &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]) < 5) return 0;
  if (nr == NR_EXECVE) { *envp = a[2]; return 1; }
  if (nr == NR_EXECVEAT) { *envp = a[3]; return 1; }
  return 0;
}

// Reads the rest of the page at `addr` of the thread's memory: one page per read never runs into an
// unmapped neighbour, and the kernel copies a single page.
#define WINDOW 4096u
static ssize_t read_window (int fd, uint64_t addr, char *buf, size_t len) {
  (void) len;
  return pread(fd, buf, WINDOW - (size_t) (addr & (WINDOW - 1)), (off_t) addr);
}

// Reads the NULL-terminated envp array and its strings from the thread's memory, as NUL-separated bytes
// (the format of /proc/<pid>/environ). Reads a page at a time (the pointers are contiguous, and the
// strings usually are), so a typical environment costs a few preads. Bounded in count and size; anything
// malformed is an error.
static int read_exec_env (int32_t tid, uint64_t envp, char **out, size_t *out_len) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/mem", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  char *ptrs = malloc(WINDOW), *win = malloc(WINDOW);
  uint64_t ptrs_at = 0, win_at = 0;
  ssize_t ptrs_len = 0, win_len = 0;
  int rc = 0;
  if (envp == 0) goto done;  // execve with envp NULL: an empty environment
  for (uint32_t i = 0; i < EXEC_ENV_MAX_VARS; i++) {
    uint64_t at = envp + 8u * i, ptr;
    if (at < ptrs_at || at + 8 > ptrs_at + (uint64_t) ptrs_len) {
      ptrs_at = at;
      ptrs_len = read_window(fd, at, ptrs, WINDOW);
      if (ptrs_len < 8) { rc = -EFAULT; break; }
    }
    memcpy(&ptr, ptrs + (at - ptrs_at), 8);
    if (ptr == 0) break;
    for (;;) {  // one string, until its NUL, through the window
      if (ptr < win_at || ptr >= win_at + (uint64_t) win_len) {
        win_at = ptr;
        win_len = read_window(fd, ptr, win, WINDOW);
        if (win_len <= 0) { rc = -EFAULT; goto done; }
      }
      size_t off = (size_t) (ptr - win_at), avail = (size_t) win_len - off;
      char *nul = memchr(win + off, 0, avail);
      size_t take = nul != NULL ? (size_t) (nul - (win + off)) + 1 : avail;
      if (len + take > ENV_MAX_BYTES) { rc = -E2BIG; goto done; }
      while (cap - len < take) { cap *= 2; buf = realloc(buf, cap); }
      memcpy(buf + len, win + off, take);
      len += take;
      ptr += take;
      if (nul != NULL) break;
    }
  }
done:
  close(fd);
  free(ptrs);
  free(win);
  if (rc < 0) { free(buf); return rc; }
  *out = buf;
  *out_len = len;
  return 0;
}

static void probe_execute (napi_env env, void *arg) {
  probe_t *p = arg;
  if (p->link != NULL) {
    // Reading the link here saves the warm path a second trip through the thread pool.
    int pfd; const char *name;
    ssize_t r = open_parent(p->link, &pfd, &name);
    if (r == 0) {
      r = readlinkat(pfd, name, p->target, sizeof p->target - 1);
      if (r < 0) r = -errno;
      close_parent(pfd);
    }
    p->link_result = r;
    if (r < 0) { p->status = PROBE_LINK_ERROR; return; }
    p->target[r] = 0;
    if (strstr(p->target, "$<") == NULL && strstr(p->target, "${") == NULL) { p->status = PROBE_PLAIN; return; }
  }
  uint64_t envp = 0;
  // varsymfs exec-env helper (issue 13): direct reads switched off means "as if ptrace were denied".
  int ex = p->tid <= 0 ? -ESRCH : execenv_direct_disabled() ? -EPERM : pending_exec_envp(p->tid, &p->sfd, &envp);
  if (ex == 1 && (ex = read_exec_env(p->tid, envp, &p->env, &p->env_len)) == 0) { p->status = PROBE_EXEC; return; }
  // varsymfs exec-env helper (issue 13): no ptrace access of our own (Yama) -> ask the helper (1/0/-errno).
  if ((ex == -EPERM || ex == -EACCES) && execenv_enabled()) ex = execenv_envp(p->tid, &p->env, &p->env_len);
  if (ex == 1) { p->status = PROBE_EXEC; return; }
  if (ex < 0) p->exec_denied = 1;
  if (p->fd >= 0) {
    char c;
    if (pread(p->fd, &c, 1, 0) == 1) { p->status = PROBE_CACHED; return; }
    close(p->fd);
    p->fd = -1;
    // The program image is gone (exec, exit, pid reuse): the syscall fd may be of a gone task too.
    if (p->sfd >= 0) { close(p->sfd); p->sfd = -1; }
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/environ", p->tid);
  int fd = p->tid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
  if (fd < 0 || read_all_fd(fd, &p->env, &p->env_len) < 0) {
    if (fd >= 0) close(fd);
    p->status = PROBE_UNREADABLE;
    return;
  }
  p->fd = fd;
  p->status = PROBE_FRESH;
}

static void probe_complete (napi_env env, napi_status status, void *arg) {
  probe_t *p = arg;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, global, argv[5];
  napi_get_reference_value(env, p->callback, &cb);
  napi_get_global(env, &global);
  napi_create_int32(env, p->status, &argv[0]);
  if (p->env != NULL) {
    void *data;
    napi_create_buffer_copy(env, p->env_len, p->env, &data, &argv[1]);
  } else {
    napi_get_null(env, &argv[1]);
  }
  napi_get_boolean(env, p->exec_denied, &argv[2]);
  if (p->link != NULL && p->link_result >= 0) napi_create_string_utf8(env, p->target, (size_t) p->link_result, &argv[3]);
  else napi_get_null(env, &argv[3]);
  napi_create_int64(env, (int64_t) p->link_result, &argv[4]);
  napi_call_function(env, global, cb, 5, argv, NULL);
  napi_close_handle_scope(env, scope);
  napi_delete_reference(env, p->callback);
  napi_delete_async_work(env, p->work);
  if (p->fd >= 0) close(p->fd);  // not cached: the prehook's table is the cache
  if (p->sfd >= 0) close(p->sfd);
  free(p->env);
  free(p->link);
  free(p);
}

// probe(tid, linkPath|null, callback(status, envBuffer|null, execDenied, target|null, linkResult)): the
// uncached probe on the thread pool, for requests that did not come through the prehook.
static napi_value probe (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  probe_t *p = calloc(1, sizeof(probe_t));
  napi_get_value_int32(env, argv[0], &p->tid);
  p->fd = -1;
  p->sfd = -1;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t == napi_string) p->link = dup_string(env, argv[1]);
  napi_create_reference(env, argv[2], 1, &p->callback);
  napi_value name;
  napi_create_string_utf8(env, "varsymfs_probe", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, probe_execute, probe_complete, p, &p->work);
  napi_queue_async_work(env, p->work);
  return NULL;
}

// ---- the prehook: getattr and readlink on the FUSE worker thread ---------------------------------------
// fuse-native (patched) calls varsymfs_prehook on the FUSE thread that received the request, before it
// hands the request to JS. For getattr it lstats the path; for readlink, and getattr of a symlink, it
// reads the link and, when the target holds a reference, probes the caller (as probe_execute does). The
// results go into the request's slot; the JS handler only parses, expands and replies. A blocked call
// here holds only that request's FUSE thread, never the JS thread.
//
// Callers' environ fds live in a small table (bounded by configure()), each entry with a generation that
// JS uses to match its parsed copy of the environment. An entry in use by one thread is not shared: a
// second request of the same tid reads afresh without caching.
// fuse-native's op codes (fuse-native.c) and its prehook arguments (keep identical to the patch's).
enum {
  FUSE_OP_ACCESS = 2, FUSE_OP_FGETATTR = 4, FUSE_OP_GETATTR = 5, FUSE_OP_FLUSH = 6, FUSE_OP_FSYNC = 7, FUSE_OP_TRUNCATE = 10,
  FUSE_OP_FTRUNCATE = 11, FUSE_OP_UTIMENS = 12, FUSE_OP_READLINK = 13, FUSE_OP_CHOWN = 14, FUSE_OP_CHMOD = 15,
  FUSE_OP_MKNOD = 16, FUSE_OP_GETXATTR = 18, FUSE_OP_OPEN = 21, FUSE_OP_READ = 23, FUSE_OP_WRITE = 24, FUSE_OP_RELEASE = 25,
  FUSE_OP_CREATE = 27, FUSE_OP_UNLINK = 28, FUSE_OP_RENAME = 29, FUSE_OP_LINK = 30, FUSE_OP_SYMLINK = 31,
  FUSE_OP_MKDIR = 32, FUSE_OP_RMDIR = 33
};
typedef struct {
  uint32_t op;
  uint32_t pid;
  const char *path;
  const char *dest;
  char *buf;
  uint64_t len;
  int64_t offset;
  uint64_t fh;
  int32_t flags;
  uint32_t mode;
  uint32_t uid;
  uint32_t gid;
  uint64_t dev;
  struct timespec times[2];
  const char *name;
  uint64_t size;
} fuse_native_prehook_args_t;

#define HOOK_DONE 7          // a passthrough op was done here: its result is in the slot's `result`
static char reserved_name[256] = "";

typedef struct {
  int32_t status;        // 0: nothing done (JS does the op); HOOK_DONE; or a PROBE_* code
  int32_t lstat_result;  // getattr: 0 or -errno; HOOK_DONE: the op's result (fd, count, 0) or -errno
  int32_t link_result;   // target length or -errno
  uint32_t generation;   // PROBE_CACHED / PROBE_FRESH: the cache entry's generation
  uint32_t exec_denied;
  uint32_t env_len;
  uint64_t env_ptr;      // PROBE_FRESH / PROBE_EXEC: malloc'd environment block, owned by the slot
  uint32_t stat[22];
  char target[4097];
} hook_slot_t;

typedef struct {
  int32_t tid;
  int32_t fd;
  int32_t sfd;
  uint32_t generation;
  uint32_t busy;
  uint64_t used;
} cache_entry_t;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static cache_entry_t *cache = NULL;
static uint32_t cache_max = 0;
static uint32_t cache_generation = 0;
static uint64_t cache_clock = 0;

// Claims the entry of `tid` (or a new one, evicting the least recently used): returns its index and fd
// (-1 when new), or -1 when the entry is busy or there is no cache.
static int cache_claim (int32_t tid, int32_t *fd, int32_t *sfd) {
  if (cache == NULL) return -1;
  pthread_mutex_lock(&cache_mu);
  int found = -1, free_slot = -1, lru = -1;
  for (uint32_t i = 0; i < cache_max; i++) {
    if (cache[i].tid == tid && cache[i].fd >= 0) { found = (int) i; break; }
    if (cache[i].fd < 0) { if (free_slot < 0) free_slot = (int) i; }
    else if (!cache[i].busy && (lru < 0 || cache[i].used < cache[lru].used)) lru = (int) i;
  }
  int idx = -1;
  if (found >= 0) {
    if (!cache[found].busy) { idx = found; *fd = cache[found].fd; *sfd = cache[found].sfd; }
  } else {
    idx = free_slot >= 0 ? free_slot : lru;
    if (idx >= 0) {
      if (cache[idx].fd >= 0) close(cache[idx].fd);
      if (cache[idx].sfd >= 0) close(cache[idx].sfd);
      cache[idx].fd = -1;
      cache[idx].sfd = -1;
      cache[idx].tid = tid;
      *fd = -1;
      *sfd = -1;
    }
  }
  if (idx >= 0) { cache[idx].busy = 1; cache[idx].used = ++cache_clock; }
  pthread_mutex_unlock(&cache_mu);
  return idx;
}

static uint32_t cache_release (int idx, int32_t fd, int32_t sfd, int fresh) {
  pthread_mutex_lock(&cache_mu);
  cache[idx].fd = fd;
  cache[idx].sfd = fd >= 0 ? sfd : -1;
  if (fd < 0 && sfd >= 0) close(sfd);
  if (fresh) cache[idx].generation = ++cache_generation;
  uint32_t g = cache[idx].generation;
  cache[idx].busy = 0;
  if (fd < 0) cache[idx].tid = 0;
  pthread_mutex_unlock(&cache_mu);
  return g;
}

// Probe the caller as probe_execute does, with the cache above.
static void hook_probe (int32_t tid, hook_slot_t *slot) {
  probe_t p;
  memset(&p, 0, sizeof p);
  p.tid = tid;
  int32_t fd = -1, sfd = -1;
  int idx = tid > 0 ? cache_claim(tid, &fd, &sfd) : -1;
  p.fd = fd;
  p.sfd = sfd;
  probe_execute(NULL, &p);
  if (idx >= 0) {
    int keep = p.status == PROBE_FRESH || p.status == PROBE_CACHED || p.status == PROBE_EXEC;
    if (!keep && p.fd >= 0) close(p.fd);
    slot->generation = cache_release(idx, keep ? p.fd : -1, p.sfd, p.status == PROBE_FRESH);
  } else {
    if (p.status == PROBE_FRESH && p.fd >= 0) close(p.fd);  // read beside a busy entry: not cached
    if (p.sfd >= 0) close(p.sfd);
    slot->generation = 0;
  }
  slot->status = p.status;
  slot->exec_denied = (uint32_t) p.exec_denied;
  slot->env_ptr = (uint64_t) (uintptr_t) p.env;
  slot->env_len = (uint32_t) p.env_len;
}

// "/a/b" -> "a/b", "/" -> "."
static const char *relative (const char *path) {
  return path[0] == '/' && path[1] != 0 ? path + 1 : (path[0] == '/' ? "." : path);
}

// varsymfs's own data file (and its temporary siblings) at the root: JS refuses those ops itself.
static int is_reserved (const char *path) {
  if (path == NULL || reserved_name[0] == 0 || path[0] != '/') return 0;
  return strncmp(path + 1, reserved_name, strlen(reserved_name)) == 0 && strchr(path + 1, '/') == NULL;
}

// A passthrough op on this FUSE thread: the same calls as the thread-pool path (path_op), no hop.
static int hook_passthrough (const fuse_native_prehook_args_t *a, hook_slot_t *slot) {
  call_t c;
  memset(&c, 0, sizeof c);
  ssize_t r;
  switch (a->op) {
    case FUSE_OP_READ: r = pread((int) a->fh, a->buf, a->len, a->offset); break;
    case FUSE_OP_WRITE: r = pwrite((int) a->fh, a->buf, a->len, a->offset); break;
    case FUSE_OP_RELEASE: r = close((int) a->fh); break;
    case FUSE_OP_FLUSH: r = 0; break;
    case FUSE_OP_FSYNC: r = a->mode ? fdatasync((int) a->fh) : fsync((int) a->fh); break;
    case FUSE_OP_FTRUNCATE: r = ftruncate((int) a->fh, a->offset); break;
    case FUSE_OP_FGETATTR: {
      // An open file, perhaps unlinked (hard_remove): its handle names it.
      struct stat st;
      r = fstat((int) a->fh, &st);
      if (r == 0) encode_stat(&st, slot->stat);
      break;
    }
    case FUSE_OP_OPEN: c.op = OP_OPEN; c.num[0] = a->flags & ~(O_CREAT | O_EXCL | O_NOCTTY); goto path;
    case FUSE_OP_CREATE: c.op = OP_OPEN; c.num[0] = a->flags | O_CREAT; c.num[1] = a->mode; goto path;
    case FUSE_OP_ACCESS: c.op = OP_ACCESS; c.num[0] = a->mode; goto path;
    case FUSE_OP_TRUNCATE: c.op = OP_TRUNCATE; c.num[0] = a->offset; goto path;
    case FUSE_OP_UTIMENS:
      c.op = OP_UTIMENS;
      c.num[0] = a->times[0].tv_sec; c.num[1] = a->times[0].tv_nsec; c.num[2] = a->times[1].tv_sec; c.num[3] = a->times[1].tv_nsec;
      goto path;
    case FUSE_OP_CHOWN: c.op = OP_CHOWN; c.num[0] = (int32_t) a->uid; c.num[1] = (int32_t) a->gid; goto path;
    case FUSE_OP_CHMOD: c.op = OP_CHMOD; c.num[0] = a->mode; goto path;
    case FUSE_OP_MKNOD: c.op = OP_MKNOD; c.num[0] = a->mode; c.num[1] = (int64_t) a->dev; goto path;
    case FUSE_OP_MKDIR: c.op = OP_MKDIR; c.num[0] = a->mode; goto path;
    case FUSE_OP_UNLINK: c.op = OP_UNLINK; goto path;
    case FUSE_OP_RMDIR: c.op = OP_RMDIR; goto path;
    case FUSE_OP_RENAME: c.op = OP_RENAME; goto two;
    case FUSE_OP_LINK: c.op = OP_LINK; goto two;
    case FUSE_OP_GETXATTR: {
      // Only the common "no such attribute" answer (the kernel asks for security.capability on every
      // write): a value goes back through JS, which has the reply buffer.
      if (a->name == NULL || a->path == NULL || is_reserved(a->path)) return 0;
      c.op = OP_GETXATTR; c.path = (char *) relative(a->path); c.path2 = (char *) a->name;
      r = path_op(&c);
      if (r != -ENODATA) return 0;
      goto out;
    }
    case FUSE_OP_SYMLINK:
      // fuse-native passes (target, link path)
      if (a->dest == NULL || is_reserved(a->dest)) return 0;
      c.op = OP_SYMLINK; c.path = (char *) relative(a->dest); c.path2 = (char *) a->path;
      r = path_op(&c);
      goto out;
    default: return 0;
  }
  if (r < 0) r = -errno;
  goto out;
two:
  if (a->dest == NULL || is_reserved(a->dest)) return 0;
  c.path2 = (char *) relative(a->dest);
path:
  if (a->path == NULL || is_reserved(a->path)) return 0;
  c.path = (char *) relative(a->path);
  r = path_op(&c);
out:
  slot->lstat_result = (int32_t) r;
  slot->status = HOOK_DONE;
  return 1;
}

static void varsymfs_prehook (const fuse_native_prehook_args_t *a, char *raw) {
  hook_slot_t *slot = (hook_slot_t *) raw;
  free((void *) (uintptr_t) slot->env_ptr);
  slot->env_ptr = 0;
  slot->status = 0;
  uint32_t op = a->op;
  if (op != FUSE_OP_GETATTR && op != FUSE_OP_READLINK) {
    hook_passthrough(a, slot);
    return;
  }
  if (a->path == NULL || is_reserved(a->path)) return;
  const char *rel = relative(a->path);
  uint32_t pid = a->pid;
  int pfd; const char *name;
  int r = open_parent(rel, &pfd, &name);
  if (r < 0) { slot->lstat_result = r; slot->link_result = r; slot->status = PROBE_LINK_ERROR; return; }
  if (op == FUSE_OP_GETATTR) {
    struct stat st;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      slot->lstat_result = -errno;
      slot->status = PROBE_LINK_ERROR;
      close_parent(pfd);
      return;
    }
    slot->lstat_result = 0;
    encode_stat(&st, slot->stat);
    if (!S_ISLNK(st.st_mode)) { slot->status = PROBE_PLAIN; slot->link_result = -EINVAL; close_parent(pfd); return; }
  }
  ssize_t n = readlinkat(pfd, name, slot->target, sizeof slot->target - 1);
  close_parent(pfd);
  if (n < 0) { slot->link_result = -errno; slot->status = PROBE_LINK_ERROR; return; }
  slot->target[n] = 0;
  slot->link_result = (int32_t) n;
  if (strstr(slot->target, "$<") == NULL && strstr(slot->target, "${") == NULL) { slot->status = PROBE_PLAIN; return; }
  hook_probe((int32_t) pid, slot);
}

// prehook(): the external to hand to fuse-native's setPrehook.
static napi_value get_prehook (napi_env env, napi_callback_info info) {
  napi_value ext;
  napi_create_external(env, (void *) varsymfs_prehook, NULL, NULL, &ext);
  return ext;
}

// configure(cacheSize, reservedName): the number of callers whose environ fds are kept, and the root
// entry the prehook must leave to JS (which hides it).
static napi_value configure (napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t rlen = 0;
  napi_get_value_string_utf8(env, argv[1], reserved_name, sizeof reserved_name, &rlen);
  uint32_t max = 1024;
  napi_get_value_uint32(env, argv[0], &max);
  pthread_mutex_lock(&cache_mu);
  if (cache == NULL && max > 0) {
    cache = calloc(max, sizeof(cache_entry_t));
    for (uint32_t i = 0; i < max; i++) cache[i].fd = cache[i].sfd = -1;
    cache_max = max;
  }
  pthread_mutex_unlock(&cache_mu);
  return NULL;
}

// slotEnv(localsBuffer, offset): a copy of the environment block the prehook left in the slot.
static napi_value slot_env (napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *data;
  size_t len;
  uint32_t offset;
  napi_get_buffer_info(env, argv[0], (void **) &data, &len);
  napi_get_value_uint32(env, argv[1], &offset);
  napi_value out;
  if (offset + sizeof(hook_slot_t) > len) { napi_get_null(env, &out); return out; }
  hook_slot_t *slot = (hook_slot_t *) (data + offset);
  void *copy;
  if (slot->env_ptr == 0) napi_create_buffer(env, 0, &copy, &out);
  else napi_create_buffer_copy(env, slot->env_len, (void *) (uintptr_t) slot->env_ptr, &copy, &out);
  return out;
}

NAPI_MODULE_INIT () {
  napi_value fn;
  napi_create_function(env, "start", NAPI_AUTO_LENGTH, start, NULL, &fn);
  napi_set_named_property(env, exports, "start", fn);
  napi_create_function(env, "probe", NAPI_AUTO_LENGTH, probe, NULL, &fn);
  napi_set_named_property(env, exports, "probe", fn);
  napi_create_function(env, "prehook", NAPI_AUTO_LENGTH, get_prehook, NULL, &fn);
  napi_set_named_property(env, exports, "prehook", fn);
  napi_create_function(env, "configure", NAPI_AUTO_LENGTH, configure, NULL, &fn);
  napi_set_named_property(env, exports, "configure", fn);
  napi_create_function(env, "slotEnv", NAPI_AUTO_LENGTH, slot_env, NULL, &fn);
  napi_set_named_property(env, exports, "slotEnv", fn);
  execenv_register(env, exports);  // varsymfs exec-env helper (issue 13): execenvConfigure, execenvStats
  return exports;
}
