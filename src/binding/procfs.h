// Reading a caller's /proc files: shared by the daemon (callers.c) and the exec-env helper
// (varsymfs-execenv.c), so that both read and judge them by one set of rules. Pure parsers over bytes and
// one bounded reader; no globals and no configuration, so that the helper binary links it alone.
#ifndef VARSYMFS_PROCFS_H
#define VARSYMFS_PROCFS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// /proc/<tid>/status (1 MiB: its Groups line grows with the supplementary groups, up to 65536 of them)
// and /proc/<tid>/maps (64 MiB: a line per mapping, 65530 by default, each name up to a path's length).
#define VSF_STATUS_MAX_BYTES (1u << 20)
#define VSF_AUXV_MAX_BYTES (1u << 16)
#define VSF_MAPS_MAX_BYTES (64u << 20)

// Reads the file open on `fd` whole from offset 0, at most `max` bytes (past it: -E2BIG), malloc'd and
// NUL-terminated into *out: the length, or -errno.
ssize_t vsf_read_bounded (int fd, char **out, size_t max);

// /proc/<tid>/syscall: 1 with *envp set when the thread is inside execve/execveat, 0 when not.
int vsf_parse_syscall (const char *text, uint64_t *envp);

// The lines of /proc/<tid>/status the readers judge a caller by.
typedef struct {
  uint32_t uid[4], gid[4];   // real, effective, saved, filesystem
  int32_t ppid;              // 0 when not shown
  uint64_t cap_permitted;
  int has_caps;              // CapPrm was shown
} vsf_status_t;

// 0, or -EIO when its Uid or Gid line is missing or malformed.
int vsf_parse_status (const char *text, vsf_status_t *out);

// /proc/<tid>/auxv (`len` bytes): AT_SECURE's value said non-zero, or AT_SECURE not found (unknown counts
// as secure): 1; AT_SECURE found and 0: 0.
int vsf_auxv_secure (const char *auxv, size_t len);

// /proc/<tid>/stat: the memory layout of the program image (start/end of code, stack start, data, brk, argv
// and environment areas), which exec replaces. 0, or -EIO when the line is short.
#define VSF_LAYOUT_FIELDS 10
int vsf_parse_layout (const char *text, uint64_t out[VSF_LAYOUT_FIELDS]);

// One mapping, as /proc/<tid>/maps or PROCMAP_QUERY shows it.
typedef struct {
  int readable, private_;
  uint32_t dev_major, dev_minor;
  uint64_t inode;
  const char *name;          // "" when it has none
} vsf_mapping_t;

// The one rule for memory whose envp may be read: readable, private, anonymous memory (no device, no inode
// and the name of the stack, the heap, an anonymous map or none). A page of a file could be on a FUSE mount
// the caller serves, which could stall the read without end; such a server chooses its inode numbers, 0 too.
int vsf_mapping_anonymous (const vsf_mapping_t *m);

typedef struct { uint64_t start, end; int anon; } vsf_range_t;
typedef struct { vsf_range_t *r; size_t n; } vsf_maps_t;

// Every mapping of /proc/<tid>/maps (`text`, `len` bytes, changed in place), sorted by address as the
// kernel lists them, each marked anonymous or not: 0 with out->r malloc'd, or -ENOMEM.
int vsf_parse_maps (char *text, size_t len, vsf_maps_t *out);

// 0 when [lo, hi) lies wholly in anonymous memory; -ENXIO when some of it is in another kind of mapping,
// -EFAULT when some of it is not mapped.
int vsf_maps_check (const vsf_maps_t *m, uint64_t lo, uint64_t hi);

// Asks the kernel (PROCMAP_QUERY, Linux 6.11, on a /proc/<tid>/maps fd) about the mapping at `addr`: 1 with
// *out set to it when it is anonymous memory, 0 when it is another kind of mapping or there is none,
// -ENOTTY (or another -errno) when the kernel cannot be asked.
int vsf_query_anonymous (int maps_fd, uint64_t addr, vsf_range_t *out);

#endif
