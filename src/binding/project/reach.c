// How the daemon reaches a caller's directories and files: paths joined and made relative, statx, a
// directory inside our own mount as its backing-store path, the caller's cwd and root through /proc, and
// files opened inside the caller's root the way the caller would (openat2). Identities of the cwd and root
// are read from cached attributes only: never a request to our own mount.
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

// dir + "/" + name into buf; 0 when too long.
int join (char *buf, const char *dir, size_t len, const char *name) {
  size_t n = strlen(name);
  if (len + 1 + n + 1 > PATH_MAX) return 0;
  memcpy(buf, dir, len);
  size_t k = len;
  if (k == 0 || buf[k - 1] != '/') buf[k++] = '/';
  memcpy(buf + k, name, n + 1);
  return 1;
}

// "../../name" from the caller's working directory for a file `depth` directories up: what the caller can
// reach from where it is even when it could not search a directory above (0 when too long).
int relative (char *buf, uint32_t depth, const char *name) {
  size_t n = strlen(name);
  if ((size_t) depth * 3 + n + 1 > PATH_MAX) return 0;
  for (uint32_t k = 0; k < depth; k++) memcpy(buf + 3 * k, "../", 3);
  memcpy(buf + 3 * (size_t) depth, name, n + 1);
  return 1;
}

int sx (int dfd, const char *path, int flags, struct statx *st) {
  return syscall(SYS_statx, dfd, path, flags | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_MNT_ID, st) == 0 ? 0 : -errno;
}

int inside_mount (const char *dir, size_t len) {
  size_t m = vsf_config.mount_point_len;
  return m > 0 && len >= m && memcmp(dir, vsf_config.mount_point, m) == 0 && (len == m || dir[m] == '/' || m == 1);
}

// The backing-store path of a directory inside the mount ("." for its root).
const char *backing (const char *dir, size_t len) {
  size_t m = vsf_config.mount_point_len;
  return len == m ? "." : dir + m + (m == 1 ? 0 : 1);
}

// Stats `name` beneath dfd (or an absolute path) through no symlink, a last one included (-ELOOP). -errno.
int stat_beneath (int dfd, const char *name, struct statx *st) {
  struct open_how how = { .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
  long fd = syscall(SYS_openat2, dfd, name, &how, sizeof how);
  if (fd < 0) return -errno;
  int r = sx((int) fd, "", AT_EMPTY_PATH, st);
  close((int) fd);
  if (r == 0 && S_ISLNK(st->stx_mode)) r = -ELOOP;
  return r;
}

// Opens the caller's working directory or root (`what`, O_PATH) as the daemon; -1 if it cannot.
int open_proc_dir (uint32_t tid, const char *what) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/%u/%s", tid, what);
  return open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

// Opens a project file outside the mount (`full`, as the daemon names it) the way the caller would: a
// symlink is followed inside the caller's root, never through a /proc magic link (/proc/self would be the
// daemon); with `resolve` RESOLVE_NO_SYMLINKS (a nested name), none at all. -errno.
int open_in_root_how (vsf_project_t *p, int root_fd, const char *full, int flags, uint64_t resolve) {
  if (root_fd < 0) return -EACCES;
  const char *rel = full + (p->root_len > 1 ? p->root_len : 0);
  while (*rel == '/') rel++;
  struct open_how how = { .flags = (uint64_t) (flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve };
  long fd = syscall(SYS_openat2, root_fd, *rel ? rel : ".", &how, sizeof how);
  return fd < 0 ? -errno : (int) fd;
}

int open_in_root (vsf_project_t *p, int root_fd, const char *full, int flags) {
  return open_in_root_how(p, root_fd, full, flags, 0);
}

static int identity_at (int dfd, const char *path, int flags, ident_t *id) {
  struct statx st;
  if (syscall(SYS_statx, dfd, path, flags | AT_STATX_DONT_SYNC, STATX_INO | STATX_MNT_ID, &st) != 0) return -1;
  id->dev = makedev(st.stx_dev_major, st.stx_dev_minor);
  id->ino = st.stx_ino;
  id->mnt = (st.stx_mask & STATX_MNT_ID) ? st.stx_mnt_id : 0;
  return 0;
}

// The caller's working directory's (or root's: `what`) identity, through /proc (never a request to our own mount).
int proc_identity (uint32_t tid, const char *what, ident_t *id) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/%u/%s", tid, what);
  return identity_at(AT_FDCWD, proc, 0, id);
}

int cwd_identity (uint32_t tid, ident_t *id) { return proc_identity(tid, "cwd", id); }

// An O_PATH fd's identity (cached attributes only: never a request to our own mount).
int fd_identity (int fd, ident_t *id) { return identity_at(fd, "", AT_EMPTY_PATH, id); }

int same_ident (const ident_t *a, const ident_t *b) { return a->dev == b->dev && a->ino == b->ino && a->mnt == b->mnt; }
