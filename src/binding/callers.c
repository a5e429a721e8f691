// Which environment a caller means, exactly, and fast.
//
// The FUSE request names its caller by thread id. A number is not an identity: a thread exits and its
// number can be given to a new process. So each cached caller holds an *anchor*, an fd on a file of its
// /proc/<tid> directory whose reads go through the task itself: /proc/<tid>/syscall (also the pending-exec
// check) or, where ptrace access is denied, /proc/<tid>/comm. Once that thread is gone, the anchor fails
// (ESRCH), even if a new thread has the same number. The environment fd (/proc/<tid>/environ) is bound to
// the program image it was opened on and reads 0 bytes once that image has exec'd or exited. A cached entry
// is used only while its anchor still reads, its environment fd still reads, and the request carries the
// same fs uid/gid as when it was read; any failure means "read afresh", never "skip a check".
//
// Reads happen on the FUSE worker thread of the request: a caller that stalls them (its envp in a page of
// a file on a FUSE mount it serves itself) holds only its own request.
#include "internal.h"
#include "setcache.h"
#include "envp.h"
#include "execenv_client.h"
#include "procfs.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

// An environment past the kernel's own exec limit (envp.h) cannot have been exec'd: past it the daemon
// reads nothing more (the caller's environment counts as unreadable).
#define ENV_MAX_BYTES VSF_EXEC_MAX_BYTES


typedef struct vsf_entry {
  int32_t tid;          // 0: free
  int anchor;           // -1: nothing cached
  int anchor_is_syscall;
  int envfd;
  uint32_t uid, gid;    // the request's fs ids when the environment was read
  uint64_t generation;  // its environment's (0: none read); 64 bits, never given twice
  int secure;           // the image did a secure exec or has differing ids (-1: not known yet)
  int shared_memory;    // its memory is its parent's too (vfork): read afresh every time, never cached
  int busy;             // claimed by a request (claim): the rest of the entry is that request's alone
  uint64_t used;
} entry_t;

#define WAYS_MAX 4
static int busy (const void *way) { return ((const entry_t *) way)->busy; }
// Guards each entry's tid, busy and used, and cache's clock: the claim and its release, never a read of
// /proc. A leaf. A claimed entry (busy) is a lock no one waits for (claim gives up and reads without
// caching), so whatever its request takes while holding it cannot deadlock (docs/design.md, "Locks").
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static entry_t *table;  // table, cache's sets and ways (sets * ways <= --cache-size): set once by configure before the mount
static vsf_setcache_t cache = { sizeof(entry_t), offsetof(entry_t, used), 0, 0, busy, 0 };
static _Atomic uint64_t next_generation = 1;

int vsf_cache_init (uint32_t max) {
  pthread_mutex_lock(&mu);
  if (table == NULL && max > 0) {
    cache.ways = max < WAYS_MAX ? max : WAYS_MAX;
    cache.sets = max / cache.ways;
    table = calloc((size_t) cache.sets * cache.ways, sizeof(entry_t));
    if (table != NULL) for (uint32_t i = 0; i < cache.sets * cache.ways; i++) { table[i].anchor = table[i].envfd = -1; table[i].secure = -1; }
  }
  pthread_mutex_unlock(&mu);
  return table != NULL || max == 0 ? 0 : -ENOMEM;
}

static void forget (entry_t *e) {
  if (e->anchor >= 0) close(e->anchor);
  if (e->envfd >= 0) close(e->envfd);
  e->anchor = e->envfd = -1;
  e->anchor_is_syscall = 0;
  e->secure = -1;
  e->shared_memory = 0;
  e->generation = 0;
}

static int holds_tid (const void *way, const void *key) { return ((const entry_t *) way)->tid == *(const int32_t *) key; }

// The entry of `tid`, claimed for this thread (or a new one, evicting the least recently used of its set);
// NULL when it is in use by another request of the same tid or every way is busy: read without caching.
static entry_t *claim (int32_t tid) {
  if (table == NULL) return NULL;
  void *set = vsf_set_of(&cache, table, (uint32_t) tid * 2654435761u);
  pthread_mutex_lock(&mu);
  entry_t *e = vsf_set_find(&cache, set, holds_tid, &tid);
  if (e != NULL && e->busy) e = NULL;
  else if (e == NULL && (e = vsf_set_victim(&cache, set, NULL, NULL)) != NULL) { forget(e); e->tid = tid; }
  if (e != NULL) { e->busy = 1; vsf_set_touch(&cache, e); }
  pthread_mutex_unlock(&mu);
  return e;
}

// An entry left without an anchor is free again (stamp 0, setcache.h).
static void release (entry_t *e) {
  pthread_mutex_lock(&mu);
  if (e->anchor < 0) { e->tid = 0; e->used = 0; }
  e->busy = 0;
  pthread_mutex_unlock(&mu);
}
static int open_proc (int32_t tid, const char *file) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", tid, file);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

// 1 with *envp set when the thread is inside execve/execveat, 0 when not, -errno when the anchor is dead
// (the thread is gone) or unreadable.
static int syscall_state (int sfd, uint64_t *envp) {
  char text[512];
  ssize_t n = pread(sfd, text, sizeof text - 1, 0);
  if (n <= 0) return n < 0 ? -errno : -ESRCH;
  text[n] = 0;
  return vsf_parse_syscall(text, envp);
}

static int anchor_alive (const entry_t *e, int *in_exec, uint64_t *envp) {
  if (e->anchor_is_syscall) {
    int s = syscall_state(e->anchor, envp);
    if (s < 0) return 0;
    *in_exec = s;
    return 1;
  }
  char c;
  *in_exec = 0;
  return pread(e->anchor, &c, 1, 0) == 1;
}

// Whether a failure says something about the caller (gone, not ours to read, past a bound) rather than
// about the daemon (out of fds or memory): only the first may be answered as "no environment".
static int about_caller (int e) {
  e = e < 0 ? -e : e;
  return e == ENOENT || e == ESRCH || e == EACCES || e == EPERM || e == E2BIG || e == EFAULT || e == ENXIO;
}

// A /proc file of `tid` whole, within `max` bytes: the length (0: empty, nothing allocated), or -errno.
static ssize_t read_proc (int32_t tid, const char *file, size_t max, char **out) {
  int fd = open_proc(tid, file);
  if (fd < 0) return fd;
  ssize_t n = vsf_read_bounded(fd, out, max);
  close(fd);
  if (n == 0) { free(*out); *out = NULL; }
  return n;
}

// A secure exec (setuid/setgid/file capabilities: AT_SECURE) or credentials that differ from the real
// ids: the environment was chosen by someone less privileged than the program, so it is not used
// (DragonFly's varsym clears process variables on a setuid exec for the same reason).
// Also says (*ppid) who its parent is. 1 or 0; unknown counts as secure, but -errno when the daemon
// itself could not look (out of fds or memory).
static int is_secure (int32_t tid, int32_t *ppid) {
  char *buf = NULL;
  *ppid = 0;
  ssize_t n = read_proc(tid, "status", VSF_STATUS_MAX_BYTES, &buf);
  if (n <= 0) return n == 0 || about_caller((int) n) ? 1 : (int) n;
  vsf_status_t st;
  int parsed = vsf_parse_status(buf, &st);
  free(buf);
  *ppid = st.ppid;
  const uint32_t *u = st.uid, *g = st.gid;
  int differs = parsed < 0 || u[1] != u[0] || u[2] != u[0] || u[3] != u[0] || g[1] != g[0] || g[2] != g[0] || g[3] != g[0];
  if (differs) return 1;
  n = read_proc(tid, "auxv", VSF_AUXV_MAX_BYTES, &buf);
  if (n <= 0) return n == 0 || about_caller((int) n) ? 1 : (int) n;
  int secure = vsf_auxv_secure(buf, (size_t) n);
  free(buf);
  return secure;
}

// ---- the pending exec's environment -------------------------------------------------------------------

// The caller's anonymous memory (stack, heap, private anonymous maps): the only memory read for envp. A
// page of a file could be on a FUSE mount the caller serves, which could stall the read without end.
// Asked of the kernel one address at a time (PROCMAP_QUERY, Linux 6.11), else from /proc/<tid>/maps.
typedef struct {
  int fd;            // /proc/<tid>/maps
  int query;         // PROCMAP_QUERY answers here
  vsf_range_t last;  // the last anonymous mapping found
  vsf_maps_t maps;   // parsed, when the kernel cannot be asked
  int parsed;
} memmap_t;

static int memmap_open (memmap_t *m, int32_t tid) {
  memset(m, 0, sizeof *m);
  m->fd = open_proc(tid, "maps");
  m->query = 1;
  return m->fd < 0 ? m->fd : 0;
}

static void memmap_close (memmap_t *m) {
  if (m->fd >= 0) close(m->fd);
  free(m->maps.r);
}

// 1 when `addr` lies in readable anonymous memory of the caller, 0 when not, -errno when unknown.
static int anonymous (memmap_t *m, uint64_t addr) {
  if (addr >= m->last.start && addr < m->last.end) return 1;
  if (m->query) {
    int a = vsf_query_anonymous(m->fd, addr, &m->last);
    if (a >= 0) return a;
    m->query = 0;  // an older kernel: read the map once
  }
  if (!m->parsed) {
    char *text = NULL;
    ssize_t n = vsf_read_bounded(m->fd, &text, VSF_MAPS_MAX_BYTES);
    if (n < 0) return (int) n;
    int r = vsf_parse_maps(text, (size_t) n, &m->maps);
    free(text);
    if (r < 0) return r;
    m->parsed = 1;
  }
  return vsf_maps_check(&m->maps, addr, addr + 1) == 0;
}

typedef struct { int fd; memmap_t *map; } mem_t;

// The page reader of vsf_read_envp (envp.c): the caller's anonymous memory only.
static ssize_t read_anonymous (void *ctx, uint64_t addr, char *buf, size_t len) {
  mem_t *m = ctx;
  int a = anonymous(m->map, addr);
  if (a <= 0) return a < 0 ? a : -EFAULT;
  ssize_t n = pread(m->fd, buf, len, (off_t) addr);
  return n < 0 ? -errno : n;
}

// The environment thread `tid` is passing to execve (envp at `envp`), within the kernel's exec bounds.
static int read_exec_env (int32_t tid, uint64_t envp, char **out, size_t *out_len) {
  memmap_t map;
  int rc = memmap_open(&map, tid);
  if (rc < 0) { memmap_close(&map); return rc; }
  mem_t mem = { open_proc(tid, "mem"), &map };
  rc = mem.fd < 0 ? mem.fd : vsf_read_envp(envp, read_anonymous, &mem, out, out_len);
  if (mem.fd >= 0) close(mem.fd);
  memmap_close(&map);
  return rc;
}

// ---- the probe ----------------------------------------------------------------------------------------

// Whether `tid` shares its memory with its parent (a vfork child before its exec, or a CLONE_VM child).
// Its environment fd would then stay readable after its own exec, bound to the parent's memory: such a
// caller is never cached. Unknown counts as shared.
static int shares_parent_memory (int32_t tid, int32_t ppid) {
  if (ppid <= 0) return 0;
  long r = syscall(SYS_kcmp, (pid_t) tid, (pid_t) ppid, KCMP_VM, 0, 0);
  return r != 1 && r != 2;
}

// Opens the anchor of `tid` into `e` (its syscall file, else its comm file), saying whether it is inside
// execve. 0, or -errno when the thread cannot be seen.
static int open_anchor (entry_t *e, int32_t tid, int *in_exec, uint64_t *envp) {
  forget(e);
  // The exec-env helper forced on (tests) counts as ptrace being denied, as Yama denies it.
  int fd = execenv_direct_disabled() ? -EPERM : open_proc(tid, "syscall");
  if (fd >= 0) {
    int s = syscall_state(fd, envp);
    if (s >= 0) { e->anchor = fd; e->anchor_is_syscall = 1; *in_exec = s; return 0; }
    close(fd);
  }
  fd = open_proc(tid, "comm");
  if (fd < 0) return fd;
  e->anchor = fd;
  *in_exec = 0;
  return 0;
}

// The program image's side of an entry: its environment fd, and what the image is (secure, shared).
static void close_image (entry_t *e) {
  if (e->envfd >= 0) close(e->envfd);
  e->envfd = -1;
  e->generation = 0;
}

static int open_image (entry_t *e, int32_t tid) {
  close_image(e);
  int32_t ppid;
  e->secure = is_secure(tid, &ppid);
  if (e->secure < 0) { int r = e->secure; forget(e); return r; }
  e->envfd = open_proc(tid, "environ");
  // Opened by number: the anchor still reading now proves the number still named the same thread.
  int ignored; uint64_t ignored_envp;
  if (e->envfd < 0 || !anchor_alive(e, &ignored, &ignored_envp)) { int r = e->envfd < 0 ? e->envfd : -ESRCH; forget(e); return r; }
  e->shared_memory = shares_parent_memory(tid, ppid);
  return 0;
}

// Whether a target may hold a reference: it contains one of the openers TS's grammar declares. A target
// that does but holds none (say "$<1>") only costs one trip to JS, whose answer the memo then keeps.
int vsf_has_reference (const char *target, size_t len) {
  (void) len;
  for (uint32_t i = 0; i < vsf_config.openers_count; i++) if (strstr(target, vsf_config.openers[i]) != NULL) return 1;
  return 0;
}

// The one rule for whose links may read a follower's environment (the kernel's protected_symlinks is the
// model): the follower's own, root's, and the mount owner's, who chose the store. Anyone else's link is
// answered by project files, mount defaults and fallbacks only: a link written by another user must not
// turn its follower's variables into names looked up on a filesystem its author serves (docs/security.md).
int vsf_link_owner_rule (uint32_t owner, uint32_t follower) {
  if (owner == follower) return VSF_LINK_FOLLOWER;
  if (owner == 0) return VSF_LINK_ROOT;
  if (owner == vsf_config.mount_owner) return VSF_LINK_MOUNT_OWNER;
  return VSF_LINK_OTHER;
}

// ---- which environment ------------------------------------------------------------------------------

// The caller's entry for this request: the table's, claimed, or a temporary one (uncached, or every way
// busy). 0 when there is none (out of memory: v->error).
static int take_entry (vsf_env_t *v, int use_cache) {
  v->entry = use_cache && v->tid > 0 ? claim(v->tid) : NULL;
  v->cached = v->entry != NULL;
  if (v->cached) return 1;
  v->entry = malloc(sizeof *v->entry);
  if (v->entry == NULL) { v->error = -ENOMEM; return 0; }
  *v->entry = (entry_t) { .tid = v->tid, .anchor = -1, .envfd = -1, .secure = -1 };
  return 1;
}

// A cached anchor still names the same thread with the same fs ids, else the anchor is opened afresh;
// either way says whether the thread is inside execve. 0; 1 when the thread cannot be seen (no
// environment); -errno when the daemon itself could not look.
static int anchor_step (vsf_env_t *v, uint32_t uid, uint32_t gid, int *in_exec, uint64_t *envp) {
  entry_t *e = v->entry;
  if (e->anchor >= 0 && (e->uid != uid || e->gid != gid || !anchor_alive(e, in_exec, envp))) forget(e);
  if (e->anchor >= 0) return 0;
  int r = v->tid <= 0 ? -ESRCH : open_anchor(e, v->tid, in_exec, envp);
  if (r < 0) return about_caller(r) ? 1 : r;
  e->uid = uid;
  e->gid = gid;
  return 0;
}

// A caller inside execve/execveat: the environment it passes (read from its anonymous memory, or as the
// exec-env helper read it: `helped`, with `helper` its result). The image is about to be left: its
// environment fd is closed (a vfork child's would stay bound to its parent's memory); the anchor and what
// the image is stay for the exec's other requests.
static void exec_step (vsf_env_t *v, uint64_t envp, int helped, int helper) {
  entry_t *e = v->entry;
  close_image(e);
  if (e->secure < 0) { int32_t ppid; e->secure = is_secure(v->tid, &ppid); }
  if (e->secure < 0) { v->error = e->secure; forget(e); return; }
  if (e->secure) { free(v->env); v->env = NULL; v->env_len = 0; v->source = VSF_ENV_SECURE; return; }
  int r = !helped ? read_exec_env(v->tid, envp, &v->env, &v->env_len) : helper == 1 ? 0 : 1;  // 1: refused
  if (r < 0 && !about_caller(r)) { v->error = r; return; }
  if (r == 0) { v->source = VSF_ENV_EXEC; return; }
  v->exec_check = VSF_EXEC_REFUSED;
  v->source = VSF_ENV_UNREADABLE;
  COUNT(VSF_C_EXEC_REFUSED);
}

// A new image's environment, read whole; kept under a new generation unless its memory is its parent's.
static void read_fresh (vsf_env_t *v) {
  entry_t *e = v->entry;
  ssize_t n = vsf_read_bounded(e->envfd, &v->env, ENV_MAX_BYTES);
  if (n < 0) {
    v->env = NULL;
    forget(e);
    if (!about_caller((int) n)) v->error = (int) n;
    v->source = VSF_ENV_UNREADABLE;
    return;
  }
  v->env_len = (size_t) n;
  v->source = VSF_ENV_FRESH;
  if (e->shared_memory) { forget(e); return; }
  if (v->cached) {
    // 64 bits do not wrap in any daemon's life (2^64 reads); the stride (tests) may reach the reserved
    // generations, which are skipped.
    uint64_t g = atomic_fetch_add(&next_generation, vsf_config.generation_stride);
    while (g == 0 || g >= VSF_GEN_RESERVED) g = atomic_fetch_add(&next_generation, vsf_config.generation_stride);
    e->generation = g;
  }
  v->generation = e->generation;
}

// The program image: opened (and its environment read) when new, else checked to be the same image (its
// environment fd still reads). 1 when the image has just gone (exec'd or exited): look again; else 0 with
// the source decided.
static int image_step (vsf_env_t *v) {
  entry_t *e = v->entry;
  int fresh = e->envfd < 0;
  int r = fresh ? open_image(e, v->tid) : 0;
  if (r < 0) { if (!about_caller(r)) v->error = r; v->source = VSF_ENV_UNREADABLE; return 0; }
  if (e->secure) { v->source = VSF_ENV_SECURE; return 0; }
  if (v->link_owner == VSF_LINK_OTHER) {
    // Never leave an image open without its generation: the next request would take it as cached.
    if (fresh) close_image(e);
    v->source = VSF_ENV_LINK_OWNER;
    return 0;
  }
  if (fresh) { read_fresh(v); return 0; }
  char c;
  if (pread(e->envfd, &c, 1, 0) == 1) {
    v->source = VSF_ENV_CACHED;
    v->generation = e->generation;
    COUNT(VSF_C_ENV_CACHED);
    return 0;
  }
  close_image(e);
  return 1;
}

void vsf_env_open (vsf_env_t *v, uint32_t tid, uint32_t uid, uint32_t gid, uint32_t link_owner, int use_cache) {
  memset(v, 0, sizeof *v);
  v->tid = (int32_t) tid;
  v->link_owner = vsf_link_owner_rule(link_owner, uid);
  COUNT(VSF_C_ENV_LOOKUPS);
  if (!take_entry(v, use_cache)) return;
  entry_t *e = v->entry;
  int in_exec = 0;
  uint64_t envp = 0;
  int a = anchor_step(v, uid, gid, &in_exec, &envp);
  if (a != 0) { if (a < 0) v->error = a; v->source = VSF_ENV_UNREADABLE; return; }
  v->exec_check = e->anchor_is_syscall ? VSF_EXEC_CHECKED : VSF_EXEC_DENIED;
  // Another user's link reads neither environment; what the image is (secure) is still found out.
  int env_allowed = v->link_owner != VSF_LINK_OTHER;
  if (!env_allowed) in_exec = 0;
  // No ptrace access of our own (Yama): the exec-env helper answers "is it in execve, and with what".
  int helped = 0, helper = 0;
  if (!e->anchor_is_syscall && execenv_enabled() && env_allowed) {
    helper = execenv_envp(v->tid, &v->env, &v->env_len);
    if (helper >= 0) v->exec_check = VSF_EXEC_CHECKED;
    // Inside execve but refused: the direct path's refusal, never the image's own environment.
    in_exec = helped = helper == 1 || execenv_refused_in_exec(helper);
  }
  if (in_exec) { exec_step(v, envp, helped, helper); return; }
  for (int attempt = 0; attempt < 2; attempt++) if (!image_step(v)) return;
  v->source = VSF_ENV_UNREADABLE;
}

void vsf_env_read (vsf_env_t *v) {
  if (v->source != VSF_ENV_CACHED || v->env != NULL || v->error < 0) return;
  ssize_t n = vsf_read_bounded(v->entry->envfd, &v->env, ENV_MAX_BYTES);
  if (n > 0) { v->env_len = (size_t) n; return; }
  if (n == 0) free(v->env);
  v->env = NULL;
  // The program image went away since it was checked: what it is now is found out again, once.
  close_image(v->entry);
  v->generation = 0;
  if (image_step(v)) v->source = VSF_ENV_UNREADABLE;
}

void vsf_env_close (vsf_env_t *v) {
  if (v->entry == NULL) return;
  if (v->cached) release(v->entry);
  else { forget(v->entry); free(v->entry); }
  v->entry = NULL;
  if (v->source == VSF_ENV_EXEC) COUNT(VSF_C_ENV_EXEC);
  if (v->source == VSF_ENV_UNREADABLE) COUNT(VSF_C_ENV_UNREADABLE);
  if (v->source == VSF_ENV_SECURE) COUNT(VSF_C_ENV_SECURE);
  if (v->source == VSF_ENV_LINK_OWNER) COUNT(VSF_C_ENV_LINK_OWNER);
}

// Entries holding a caller now (for status and tests).
uint32_t vsf_cache_entries (void) {
  uint32_t n = 0;
  pthread_mutex_lock(&mu);
  for (uint32_t i = 0; table != NULL && i < cache.sets * cache.ways; i++) n += table[i].tid != 0;
  pthread_mutex_unlock(&mu);
  return n;
}
