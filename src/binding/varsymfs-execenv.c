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

// Reads the file `name` of the /proc/T directory, at most size-1 bytes, NUL-terminated. Length or -errno.
static ssize_t read_small (int dirfd, const char *name, char *buf, size_t size) {
  int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return proc_errno(errno);
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, size - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { int e = errno; close(fd); return proc_errno(e); }
    if (n == 0 || (len += (size_t) n) == size - 1) break;
  }
  close(fd);
  buf[len] = 0;
  return (ssize_t) len;
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

typedef struct {
  unsigned long uid[4], gid[4];   // real, effective, saved, filesystem
  uint64_t cap_permitted;
} creds_t;

static int parse_creds (const char *status, creds_t *c) {
  const char *u = strstr(status, "\nUid:"), *g = strstr(status, "\nGid:"), *p = strstr(status, "\nCapPrm:");
  unsigned long long prm;
  if (u == NULL || g == NULL || p == NULL ||
      sscanf(u, "\nUid: %lu %lu %lu %lu", &c->uid[0], &c->uid[1], &c->uid[2], &c->uid[3]) != 4 ||
      sscanf(g, "\nGid: %lu %lu %lu %lu", &c->gid[0], &c->gid[1], &c->gid[2], &c->gid[3]) != 4 ||
      sscanf(p, "\nCapPrm: %llx", &prm) != 1) return -EIO;
  c->cap_permitted = prm;
  return 0;
}

// The caller's own capabilities: its parent's permitted set when the parent has our real uid (the daemon
// that started us), else none. Read through the parent's /proc directory, then checked still our parent.
static uint64_t parent_caps (void) {
  char path[32], status[8192];
  snprintf(path, sizeof path, "/proc/%d", (int) parent);
  int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return 0;
  creds_t c;
  int ok = read_small(dirfd, "status", status, sizeof status) > 0 && parse_creds(status, &c) == 0;
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
  char status[8192];
  ssize_t n = read_small(dirfd, "status", status, sizeof status);
  if (n < 0) return (int) n;
  creds_t c;
  if (parse_creds(status, &c) < 0) return -EIO;
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

// 1 and the envp pointer when T is inside execve/execveat, 0 when not; `line` keeps the raw text (the
// syscall number, its arguments, stack and instruction pointers) to compare after reading.
static int read_syscall (int dirfd, char *line, size_t size, uint64_t *envp) {
  ssize_t n = read_small(dirfd, "syscall", line, size);
  if (n < 0) return (int) n;
  long nr;
  unsigned long long a[6];
  if (sscanf(line, "%ld 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx", &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]) != 7) return 0;
  if (nr == NR_EXECVE) { *envp = a[2]; return 1; }
  if (nr == NR_EXECVEAT) { *envp = a[3]; return 1; }
  return 0;
}

// The memory layout of T's current image (/proc/T/stat: start/end of code, stack start, data, brk, argv
// and environment areas). exec replaces the image while T is still inside execve; a different layout
// afterwards means the memory read may be the new image's, so the answer is dropped.
#define LAYOUT_FIELDS 10
static int read_layout (int dirfd, uint64_t *out) {
  static const int wanted[LAYOUT_FIELDS] = { 26, 27, 28, 45, 46, 47, 48, 49, 50, 51 };
  char stat[2048];
  ssize_t n = read_small(dirfd, "stat", stat, sizeof stat);
  if (n < 0) return (int) n;
  char *p = strrchr(stat, ')');   // the name (field 2) may hold spaces and parentheses
  if (p == NULL) return -EIO;
  int field = 2, k = 0;
  while (k < LAYOUT_FIELDS && *p != 0) {
    while (*p != 0 && *p != ' ') p++;
    while (*p == ' ') p++;
    if (*p == 0) break;
    field++;
    if (field == wanted[k]) out[k++] = strtoull(p, NULL, 10);
  }
  return k == LAYOUT_FIELDS ? 0 : -EIO;
}

// ---- T's memory --------------------------------------------------------------------------------------

typedef struct { uint64_t start, end; int anon; } range_t;
typedef struct { range_t *r; size_t n; } maps_t;

#define MAPS_MAX_BYTES (64u << 20)

// Every mapping of T, marked private anonymous memory or not (/proc/T/maps is sorted by address).
static int read_maps (int dirfd, maps_t *m) {
  int fd = openat(dirfd, "maps", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return proc_errno(errno);
  size_t cap = 1 << 16, len = 0;
  char *text = malloc(cap + 1);
  int rc = 0;
  while (text != NULL) {
    if (len == cap) {
      if (cap >= MAPS_MAX_BYTES) { rc = -E2BIG; break; }
      char *bigger = realloc(text, cap * 2 + 1);
      if (bigger == NULL) break;
      text = bigger;
      cap *= 2;
    }
    ssize_t n = read(fd, text + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { rc = proc_errno(errno); break; }
    if (n == 0) break;
    len += (size_t) n;
  }
  close(fd);
  if (text == NULL) return -ENOMEM;
  if (rc == 0 && len == cap) rc = -ENOMEM;
  if (rc < 0) { free(text); return rc; }
  text[len] = 0;
  size_t lines = 0;
  for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
  m->r = calloc(lines + 1, sizeof(range_t));
  m->n = 0;
  if (m->r == NULL) { free(text); return -ENOMEM; }
  for (char *line = text, *next; line < text + len && *line != 0; line = next) {
    char *nl = strchr(line, '\n');
    next = nl != NULL ? nl + 1 : text + len;
    if (nl != NULL) *nl = 0;
    unsigned long long start, end, inode;
    char perms[8], dev[16];
    int name_at = 0;
    if (sscanf(line, "%llx-%llx %7s %*s %15s %llu %n", &start, &end, perms, dev, &inode, &name_at) < 5) continue;
    const char *name = line + name_at;
    int anon_name = name[0] == 0 || strcmp(name, "[stack]") == 0 || strcmp(name, "[heap]") == 0 || strncmp(name, "[anon:", 6) == 0;
    range_t *r = &m->r[m->n++];
    r->start = start;
    r->end = end;
    r->anon = perms[0] == 'r' && perms[3] == 'p' && inode == 0 && strcmp(dev, "00:00") == 0 && anon_name;
  }
  free(text);
  return 0;
}

// 0 when [lo, hi) lies wholly in private anonymous memory; ENXIO when some of it is in another kind of
// mapping, EFAULT when some of it is not mapped.
static int check_range (const maps_t *m, uint64_t lo, uint64_t hi) {
  size_t a = 0, b = m->n;
  while (a < b) {   // the first mapping ending after lo
    size_t mid = a + (b - a) / 2;
    if (m->r[mid].end <= lo) a = mid + 1; else b = mid;
  }
  uint64_t at = lo;
  for (size_t i = a; at < hi; i++) {
    if (i == m->n || m->r[i].start > at) return -EFAULT;
    if (!m->r[i].anon) return -ENXIO;
    at = m->r[i].end;
  }
  return 0;
}

typedef struct { int memfd; const maps_t *maps; } mem_t;

// The page reader of vsf_read_envp (envp.c): private anonymous memory only, checked for the whole range.
static ssize_t read_anonymous (void *ctx, uint64_t addr, char *buf, size_t len) {
  const mem_t *m = ctx;
  int r = check_range(m->maps, addr, addr + len);
  if (r < 0) return r;
  ssize_t n = pread(m->memfd, buf, len, (off_t) addr);
  return n <= 0 ? -EFAULT : n;
}

// The NULL-terminated envp array and its strings, as NUL-separated bytes, within the kernel's exec bounds.
static int read_envp (int memfd, const maps_t *m, uint64_t envp, char **out, size_t *out_len) {
  mem_t mem = { memfd, m };
  int r = vsf_read_envp(envp, read_anonymous, &mem, out, out_len);
  return r < 0 ? r : 1;
}

// ---- the question -----------------------------------------------------------------------------------

// Everything through one fd on /proc/T: if T ends and its number is reused, every later access fails
// instead of reaching the new process. The identity, the syscall and the layout are checked again after
// reading, so an answer is about T as it was checked.
static int answer_at (int dirfd, char **out, size_t *out_len) {
  int r = check_identity(dirfd);
  if (r < 0) return r;
  char sc[512], sc_after[512];
  uint64_t envp = 0, envp_after = 0, layout[LAYOUT_FIELDS], layout_after[LAYOUT_FIELDS];
  r = read_syscall(dirfd, sc, sizeof sc, &envp);
  if (r <= 0) return r;
  if ((r = read_layout(dirfd, layout)) < 0) return r;
  maps_t m = { NULL, 0 };
  if ((r = read_maps(dirfd, &m)) < 0) return r;
  int memfd = openat(dirfd, "mem", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (memfd < 0) { free(m.r); return proc_errno(errno); }
  char *env = NULL;
  size_t env_len = 0;
  r = read_envp(memfd, &m, envp, &env, &env_len);
  close(memfd);
  free(m.r);
  if (r < 0) return r;
  int again = check_identity(dirfd);
  if (again == 0) again = read_syscall(dirfd, sc_after, sizeof sc_after, &envp_after) == 1 ? 0 : -EAGAIN;
  if (again == 0) again = read_layout(dirfd, layout_after) == 0 ? 0 : -EAGAIN;
  if (again == 0 && (strcmp(sc, sc_after) != 0 || memcmp(layout, layout_after, sizeof layout) != 0)) again = -EAGAIN;
  if (again < 0) { free(env); return again == -ESRCH ? -ESRCH : -EAGAIN; }
  *out = env;
  *out_len = env_len;
  return 1;
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
