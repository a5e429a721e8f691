// Backing paths. Every path is relative to the daemon's working directory (the backing root, taken before
// the mount covered it). The parent directory is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS):
// no symlink in the backing store is ever followed on a caller's behalf, even one swapped in for a
// directory between the kernel's lookup and our call, and nothing outside the backing root is reached. The
// last name is acted on with a no-follow *at call. Paths are bytes: nothing here decodes them.
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

vsf_config_t vsf_config;  // no lock: written by configure() before the mount, read-only after

#define SAFE_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

// Opens `rel` beneath the working directory without following any symlink.
int vsf_safe_open (const char *rel, int flags, mode_t mode) {
  struct open_how how = { .flags = (uint64_t) (flags | O_CLOEXEC), .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0, .resolve = SAFE_RESOLVE };
  long fd = syscall(SYS_openat2, AT_FDCWD, rel, &how, sizeof how);
  return fd < 0 ? -errno : (int) fd;
}

// Splits "a/b/c" into a safely opened parent ("a/b") and the last name ("c"); "." and "x" use the working
// directory itself. *pfd is AT_FDCWD or an fd for vsf_close_parent.
int vsf_open_parent (const char *rel, int *pfd, const char **name) {
  const char *slash = strrchr(rel, '/');
  if (slash == NULL) { *pfd = AT_FDCWD; *name = rel; return 0; }
  char *parent = strndup(rel, (size_t) (slash - rel));
  if (parent == NULL) return -ENOMEM;
  int fd = vsf_safe_open(parent, O_PATH | O_DIRECTORY, 0);
  free(parent);
  if (fd < 0) return fd;
  *pfd = fd;
  *name = slash + 1;
  return 0;
}

void vsf_close_parent (int pfd) { if (pfd != AT_FDCWD) close(pfd); }

// "/a/b" -> "a/b", "/" -> "."
const char *vsf_relative (const char *path) {
  return path[0] == '/' && path[1] != 0 ? path + 1 : (path[0] == '/' ? "." : path);
}

// varsymfs's data file and its temporary siblings (written beside it, then renamed): a root entry
// starting with the reserved name.
int vsf_is_reserved_name (const char *name) {
  return vsf_config.reserved_len > 0 && strncmp(name, vsf_config.reserved, vsf_config.reserved_len) == 0;
}

int vsf_is_reserved (const char *path) {
  if (path == NULL || path[0] != '/' || strchr(path + 1, '/') != NULL) return 0;
  return vsf_is_reserved_name(path + 1);
}

static void put64 (uint32_t *ints, int i, uint64_t v) { ints[i] = (uint32_t) v; ints[i + 1] = (uint32_t) (v >> 32); }

// The stat encoding of the patched fuse-native (populate_stat; varsymfs.h vsf_stat_index), for stats that JS
// replies with.
void vsf_encode_stat (const struct stat *st, uint32_t *ints) {
  ints[VSF_STAT_MODE] = st->st_mode; ints[VSF_STAT_UID] = st->st_uid; ints[VSF_STAT_GID] = st->st_gid;
  put64(ints, VSF_STAT_SIZE, (uint64_t) st->st_size);
  ints[VSF_STAT_DEV] = (uint32_t) st->st_dev; ints[VSF_STAT_NLINK] = (uint32_t) st->st_nlink;
  put64(ints, VSF_STAT_INO, st->st_ino);
  ints[VSF_STAT_RDEV] = (uint32_t) st->st_rdev; ints[VSF_STAT_BLKSIZE] = (uint32_t) st->st_blksize;
  put64(ints, VSF_STAT_BLOCKS, (uint64_t) st->st_blocks);
  put64(ints, VSF_STAT_ATIME, (uint64_t) st->st_atim.tv_sec); ints[VSF_STAT_ATIME + 2] = (uint32_t) st->st_atim.tv_nsec;
  put64(ints, VSF_STAT_MTIME, (uint64_t) st->st_mtim.tv_sec); ints[VSF_STAT_MTIME + 2] = (uint32_t) st->st_mtim.tv_nsec;
  put64(ints, VSF_STAT_CTIME, (uint64_t) st->st_ctim.tv_sec); ints[VSF_STAT_CTIME + 2] = (uint32_t) st->st_ctim.tv_nsec;
}
