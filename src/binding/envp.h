// Reading the environment a thread is passing to execve, from its memory: shared by the daemon
// (callers.c) and the exec-env helper (varsymfs-execenv.c), so that both apply the same bounds.
#ifndef VARSYMFS_ENVP_H
#define VARSYMFS_ENVP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// The kernel's own exec limits: argv and envp strings and their pointers never exceed 3/4 of _STK_LIM
// (6 MiB, with an unlimited stack rlimit), and no string MAX_ARG_STRLEN (32 pages). Past them the
// kernel fails the exec itself (E2BIG), so nothing past them is read.
#define VSF_EXEC_MAX_BYTES (6u << 20)
#define VSF_EXEC_MAX_STRLEN (32u * 4096u)

// execve and execveat, as /proc/<tid>/syscall names them (-1 where unknown: the daemon then never sees a
// pending exec, and the helper says ENOSYS at start and serves nothing).
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

// Reads up to `len` bytes at `addr` of the thread's memory (never past the page of `addr`), after checking
// that memory may be read (the caller's anonymous memory only): the count, or -errno.
typedef ssize_t (*vsf_page_reader_t) (void *ctx, uint64_t addr, char *buf, size_t len);

// The NULL-terminated envp array at `envp` and its strings, as NUL-separated bytes (the format of
// /proc/<pid>/environ), a page at a time, within the kernel's bounds (each pointer counted as 8 bytes).
// 0 with *out malloc'd, or -errno (E2BIG past a bound, EFAULT malformed, ENOMEM).
int vsf_read_envp (uint64_t envp, vsf_page_reader_t read_page, void *ctx, char **out, size_t *out_len);

#endif
