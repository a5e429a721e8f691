// varsymfs-execenv: the exec-env helper. Installed once with the file capability CAP_SYS_PTRACE by
// `sudo varsymfs setup`, run by a varsymfs daemon as a long-lived co-process, it answers one question:
// "the envp strings of tid T, which is inside execve now". Where kernel.yama.ptrace_scope >= 1 a normal
// user's daemon cannot read /proc/T/syscall or /proc/T/mem of that user's shells itself; this helper can.
// It answers only about a T that the caller (the daemon) could read /proc/T/environ of anyway, and only
// with the strings T is handing to the new program: docs/security.md gives the argument and every refusal.
//
// Rules kept here: no arguments, no environment, no paths from the daemon: only the protocol
// (execenv_protocol.h) on fd 0 (questions) and fd 1 (answers). Every capability but CAP_SYS_PTRACE (and
// those the caller holds itself) is dropped at start. Never a shell, never an exec. Exits on EOF, when its
// parent changes, or on any write error.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include "envp.h"
#include "execenv_protocol.h"
#include "procfs.h"


#define BIT(cap) (1ull << (cap))

static pid_t parent;
static uid_t caller_uid;
static gid_t caller_gid;
static uint64_t caller_caps;   // the caller's permitted set: what it could use itself
static uint64_t keep_caps;     // ours: CAP_SYS_PTRACE and the caller's own

// ---- small I/O ------------------------------------------------------------------------------------------

static int read_full (int fd, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, (char *) buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return got == 0 && n == 0 ? 0 : -1;
    got += (size_t) n;
  }
  return 1;
}

static int write_full (int fd, const void *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    buf = (const char *) buf + n;
    len -= (size_t) n;
  }
  return 0;
}

// A /proc error as the protocol says it: gone is ESRCH, any denial is EACCES.
static int proc_errno (int e) {
  if (e == ENOENT || e == ESRCH) return -ESRCH;
  if (e == EPERM || e == EACCES) return -EACCES;
  return -e;
}

// Reads the file `name` of the /proc/T directory whole, within `max` bytes (procfs.c), malloc'd and
// NUL-terminated. Length or -errno.
static ssize_t read_proc (int dirfd, const char *name, size_t max, char **out) {
  int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return proc_errno(errno);
  ssize_t n = vsf_read_bounded(fd, out, max);
  close(fd);
  return n < 0 ? proc_errno((int) -n) : n;
}

// The status of the process of `dirfd` (procfs.c), which must show its ids and capabilities.
static int read_status (int dirfd, vsf_status_t *st) {
  char *text = NULL;
  ssize_t n = read_proc(dirfd, "status", VSF_STATUS_MAX_BYTES, &text);
  if (n < 0) return (int) n;
  int r = vsf_parse_status(text, st);
  free(text);
  return r == 0 && st->has_caps ? 0 : -EIO;
}

// ---- capabilities -----------------------------------------------------------------------------------

static int caps_get (uint64_t *permitted) {
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0) return -errno;
  *permitted = d[0].permitted | ((uint64_t) d[1].permitted << 32);
  return 0;
}

static int caps_set (uint64_t permitted, uint64_t effective) {
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2] = {
    { (uint32_t) effective, (uint32_t) permitted, 0 },
    { (uint32_t) (effective >> 32), (uint32_t) (permitted >> 32), 0 },
  };
  return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

// Switches the effective set; failing to means our own state is unknown, so stop at once.
static void effective (uint64_t set) {
  if (caps_set(keep_caps, set & keep_caps) < 0) _exit(3);
}

// The caller's own capabilities: its parent's permitted set when the parent has our real uid (the daemon
// that started us), else none. Read through the parent's /proc directory, then checked still our parent.
static uint64_t parent_caps (void) {
  char path[32];
  snprintf(path, sizeof path, "/proc/%d", (int) parent);
  int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return 0;
  vsf_status_t c;
  int ok = read_status(dirfd, &c) == 0;
  close(dirfd);
  if (getppid() != parent) _exit(0);
  return ok && c.uid[0] == caller_uid ? c.cap_permitted : 0;
}

// Keeps CAP_SYS_PTRACE (effective) and the caller's own capabilities (permitted, raised only to let the
// kernel check what the caller itself may read); drops everything else, ambient and inheritable too.
static int drop_caps (void) {
  uint64_t permitted = 0;
  int r = caps_get(&permitted);
  if (r < 0) return r;
  if (!(permitted & BIT(CAP_SYS_PTRACE))) return -EPERM;
  caller_caps = parent_caps();
  keep_caps = (caller_caps | BIT(CAP_SYS_PTRACE)) & permitted;
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  return caps_set(keep_caps, BIT(CAP_SYS_PTRACE));
}

// ---- who T is -----------------------------------------------------------------------------------------

// T must be the caller's in every id, hold no capability the caller lacks, be dumpable, and the kernel must
// let the caller itself (its uid, gid and capabilities, without ours) open /proc/T/environ.
static int check_identity (int dirfd) {
  vsf_status_t c;
  int r = read_status(dirfd, &c);
  if (r < 0) return r;
  for (int i = 0; i < 4; i++) {
    if (c.uid[i] != caller_uid || c.gid[i] != caller_gid) return -EPERM;
  }
  if (c.cap_permitted & ~caller_caps) return -EPERM;
  // /proc/T is owned by root while T is not dumpable (procfs recomputes the owner on every stat).
  struct stat st;
  if (fstat(dirfd, &st) < 0) return proc_errno(errno);
  if (st.st_uid != caller_uid) return -EACCES;
  effective(caller_caps);
  int fd = openat(dirfd, "environ", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  int e = errno;
  effective(BIT(CAP_SYS_PTRACE));
  if (fd < 0) return proc_errno(e);
  close(fd);
  return 0;
}

// 1 and the envp pointer when T is inside execve/execveat, 0 when not; *line keeps the raw text (the
// syscall number, its arguments, stack and instruction pointers; malloc'd) to compare after reading.
static int read_syscall (int dirfd, char **line, uint64_t *envp) {
  ssize_t n = read_proc(dirfd, "syscall", 4096, line);
  return n < 0 ? (int) n : vsf_parse_syscall(*line, envp);
}

// The memory layout of T's current image (procfs.h). exec replaces the image while T is still inside
// execve; a different layout afterwards means the memory read may be the new image's, so the answer is
// dropped.
static int read_layout (int dirfd, uint64_t *out) {
  char *stat = NULL;
  ssize_t n = read_proc(dirfd, "stat", 4096, &stat);
  if (n < 0) return (int) n;
  int r = vsf_parse_layout(stat, out);
  free(stat);
  return r;
}

// ---- T's memory --------------------------------------------------------------------------------------

// Every mapping of T, marked anonymous memory or not (procfs.c).
static int read_maps (int dirfd, vsf_maps_t *m) {
  char *text = NULL;
  ssize_t n = read_proc(dirfd, "maps", VSF_MAPS_MAX_BYTES, &text);
  if (n < 0) return (int) n;
  int r = vsf_parse_maps(text, (size_t) n, m);
  free(text);
  return r;
}

typedef struct { int memfd; const vsf_maps_t *maps; } mem_t;

// The page reader of vsf_read_envp (envp.c): private anonymous memory only, checked for the whole range.
static ssize_t read_anonymous (void *ctx, uint64_t addr, char *buf, size_t len) {
  const mem_t *m = ctx;
  int r = vsf_maps_check(m->maps, addr, addr + len);
  if (r < 0) return r;
  ssize_t n = pread(m->memfd, buf, len, (off_t) addr);
  return n <= 0 ? -EFAULT : n;
}

// The NULL-terminated envp array and its strings, as NUL-separated bytes, within the kernel's exec bounds,
// read in T's private anonymous memory only: 1, or -errno.
static int read_env (int dirfd, uint64_t envp, char **out, size_t *out_len) {
  vsf_maps_t m = { NULL, 0 };
  int r = read_maps(dirfd, &m);
  if (r < 0) return r;
  int memfd = openat(dirfd, "mem", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (memfd < 0) { free(m.r); return proc_errno(errno); }
  mem_t mem = { memfd, &m };
  r = vsf_read_envp(envp, read_anonymous, &mem, out, out_len);
  close(memfd);
  free(m.r);
  return r < 0 ? r : 1;
}

// ---- the question -----------------------------------------------------------------------------------

// What T's pending exec was seen as: its syscall line (malloc'd) and its memory layout.
typedef struct { char *syscall; uint64_t envp, layout[VSF_LAYOUT_FIELDS]; } seen_t;

// 1 when T is inside execve, 0 when not, or -errno.
static int look (int dirfd, seen_t *s) {
  int r = read_syscall(dirfd, &s->syscall, &s->envp);
  if (r <= 0) return r;
  r = read_layout(dirfd, s->layout);
  return r < 0 ? r : 1;
}

// Everything through one fd on /proc/T: if T ends and its number is reused, every later access fails
// instead of reaching the new process. The identity, the syscall and the layout are checked again after
// reading, so an answer is about T as it was checked.
static int answer_at (int dirfd, char **out, size_t *out_len) {
  int r = check_identity(dirfd);
  if (r < 0) return r;
  seen_t before = { 0 }, after = { 0 };
  r = look(dirfd, &before);
  if (r > 0) r = read_env(dirfd, before.envp, out, out_len);
  if (r > 0) {
    int again = check_identity(dirfd);
    if (again == 0) again = look(dirfd, &after) == 1 ? 0 : -EAGAIN;
    if (again == 0 && (strcmp(before.syscall, after.syscall) != 0 || memcmp(before.layout, after.layout, sizeof before.layout) != 0)) again = -EAGAIN;
    if (again < 0) { free(*out); *out = NULL; r = again == -ESRCH ? -ESRCH : -EAGAIN; }
  }
  free(before.syscall);
  free(after.syscall);
  return r;
}

static int answer (int32_t tid, char **out, size_t *out_len) {
  if (tid <= 0) return -EINVAL;
  char path[32];
  snprintf(path, sizeof path, "/proc/%d", (int) tid);
  int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (dirfd < 0) return proc_errno(errno);
  int r = answer_at(dirfd, out, out_len);
  close(dirfd);
  return r;
}

static int is_channel (int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode));
}

int main (int argc, char **argv) {
  (void) argv;
  if (argc != 1) {
    fputs("varsymfs-execenv: takes no arguments (the varsymfs daemon starts it and asks on its stdin)\n", stderr);
    return 2;
  }
  if (!is_channel(0) || !is_channel(1)) {
    fputs("varsymfs-execenv: stdin and stdout must be a socket or pipe (the varsymfs daemon starts it)\n", stderr);
    return 2;
  }
  // Nothing inherited but the channel and stderr (the daemon's log).
  if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0) {
    for (int fd = 3; fd < 1024; fd++) close(fd);
  }
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);   // nobody attaches to us to borrow CAP_SYS_PTRACE
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  parent = getppid();
  caller_uid = getuid();
  caller_gid = getgid();
  int status = NR_EXECVE < 0 ? -ENOSYS : drop_caps();
  execenv_hello_t hello = { EXECENV_MAGIC, EXECENV_VERSION, status, (uint32_t) caller_uid };
  if (write_full(1, &hello, sizeof hello) < 0) return 1;
  if (status < 0) {
    fprintf(stderr, "varsymfs-execenv: %s (install it with: sudo varsymfs setup)\n",
            status == -EPERM ? "runs without CAP_SYS_PTRACE" : status == -ENOSYS ? "does not know this architecture's execve" : strerror(-status));
    return 1;
  }
  for (;;) {
    execenv_request_t q;
    if (read_full(0, &q, sizeof q) <= 0) return 0;   // the daemon is gone
    if (getppid() != parent) return 0;
    char *env = NULL;
    size_t len = 0;
    int r = answer(q.tid, &env, &len);
    execenv_answer_t a = { q.seq, r, r == 1 ? (uint32_t) len : 0, 0 };
    int failed = write_full(1, &a, sizeof a) < 0 || (r == 1 && len > 0 && write_full(1, env, len) < 0);
    free(env);
    if (failed) return 0;
  }
}
