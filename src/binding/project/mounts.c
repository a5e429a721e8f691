// The mount table, as the project walk needs it: which directories are on a network or FUSE filesystem (a
// walk that touches one runs on a thread of its own and may be given up: threads.c), and who mounted a
// FUSE filesystem (its server says whatever owner it likes: trust.c). Read from /proc/self/mountinfo the
// first time and whenever the kernel flags a change; each reload starts a new epoch (watch.c).
#include "internal.h"
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct { char *point; size_t len; int remote; uint64_t id; uint32_t fuse_user; } mnt_t;  // fuse_user: see mount_fuse_user
// Guards the table (mnts, nmnts) and mountinfo_fd: the fd itself, its offset (mounts_load reads from 0) and
// its poll flag (a poll that reports a change also clears it, so the poll and the reload it calls for are
// one step under this lock). Taken last: nothing is locked while it is held (docs/design.md, "Locks").
static pthread_mutex_t mnt_mu = PTHREAD_MUTEX_INITIALIZER;
static mnt_t *mnts;
static size_t nmnts;
static int mountinfo_fd = -1;

static int remote_type (const char *t) {
  static const char *types[] = { "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "afs", "lustre",
    "gpfs", "ncpfs", "davfs", "coda", "virtiofs", "sshfs", "ocfs2", "gfs2", "orangefs", "beegfs", NULL };
  if (strncmp(t, "fuse", 4) == 0) return 1;
  for (int i = 0; types[i] != NULL; i++) if (strcmp(t, types[i]) == 0) return 1;
  return 0;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
static size_t unescape (char *s) {
  char *w = s;
  for (char *r = s; *r; ) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
      *w++ = (char) ((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 4;
    } else *w++ = *r++;
  }
  *w = 0;
  return (size_t) (w - s);
}

// A FUSE mount's mounter (its user_id= option: the kernel sets it from who mounted, fusermount included);
// UINT32_MAX when not FUSE or not said.
static uint32_t fuse_user (const char *type, const char *super) {
  if (strncmp(type, "fuse", 4) != 0 || super == NULL) return UINT32_MAX;
  for (const char *o = super; o != NULL; o = strchr(o, ',') != NULL ? strchr(o, ',') + 1 : NULL) {
    if (strncmp(o, "user_id=", 8) == 0) { char *end; unsigned long v = strtoul(o + 8, &end, 10); return (*end == ',' || *end == 0) && v < UINT32_MAX ? (uint32_t) v : UINT32_MAX; }
  }
  return UINT32_MAX;
}

// The whole of mountinfo_fd, read from its start: a malloc'd string (*len bytes), NULL when out of memory.
static char *mountinfo_read (size_t *len) {
  size_t cap = 65536;
  char *buf = malloc(cap);
  if (buf == NULL) return NULL;
  *len = 0;
  lseek(mountinfo_fd, 0, SEEK_SET);
  for (;;) {
    if (*len + 4096 > cap) { char *b = realloc(buf, cap *= 2); if (b == NULL) { free(buf); return NULL; } buf = b; }
    ssize_t n = read(mountinfo_fd, buf + *len, cap - *len - 1);
    if (n <= 0) break;
    *len += (size_t) n;
  }
  buf[*len] = 0;
  return buf;
}

// One line of mountinfo into the table (the next free entry), unless it is malformed or our own mount.
static void mounts_add (char *line) {
  // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
  char *f[5], *s2 = NULL, *p = line;
  int k = 0;
  for (; k < 5 && (f[k] = strtok_r(p, " ", &s2)) != NULL; k++) p = NULL;
  if (k < 5) return;
  char *dash = strstr(s2 != NULL ? s2 : "", " - ");
  char *rest = s2 != NULL && strncmp(s2, "- ", 2) == 0 ? s2 + 2 : dash != NULL ? dash + 3 : NULL;
  if (rest == NULL) return;
  char *type = strtok_r(rest, " ", &s2);
  if (type == NULL) return;
  strtok_r(NULL, " ", &s2);  // the source
  char *super = strtok_r(NULL, " ", &s2);
  char *point = strdup(f[4]);
  if (point == NULL) return;
  size_t plen = unescape(point);
  int self = plen == vsf_config.mount_point_len && memcmp(point, vsf_config.mount_point, plen) == 0 && strncmp(type, "fuse", 4) == 0;
  if (self) { free(point); return; }  // our own mount: walked in the backing store, whose mount is below it
  mnts[nmnts++] = (mnt_t) { point, plen, remote_type(type), strtoull(f[0], NULL, 10), fuse_user(type, super) };
}

static void mounts_load (void) {
  size_t len;
  char *buf = mountinfo_read(&len);
  if (buf == NULL) return;
  for (size_t i = 0; i < nmnts; i++) free(mnts[i].point);
  free(mnts);
  mnts = NULL;
  nmnts = 0;
  size_t lines = 0;
  for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
  mnts = calloc(lines + 1, sizeof *mnts);
  if (mnts == NULL) { free(buf); return; }
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) mounts_add(line);
  free(buf);
  // A mount or unmount can change what a path names: every kept walk is dropped (fast.c).
  atomic_fetch_add(&epoch, 1);
}

// The table, read the first time and whenever it changed since (the kernel flags it for poll); under mnt_mu.
static void mounts_fresh (void) {
  if (mountinfo_fd < 0) mountinfo_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  struct pollfd pfd = { mountinfo_fd, POLLPRI, 0 };
  if (mountinfo_fd >= 0 && (mnts == NULL || (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLPRI | POLLERR))))) mounts_load();
}

// The table made current (a change since is a new epoch). The flag is polled under mnt_mu: a poll clears
// it, and on_remote must never find it cleared before the table it announced is loaded.
void mounts_poll (void) {
  pthread_mutex_lock(&mnt_mu);
  mounts_fresh();
  pthread_mutex_unlock(&mnt_mu);
}

// The mounter of FUSE mount `id` in the caller's own table (a mount namespace of its own), UINT32_MAX when
// not FUSE or not found.
static uint32_t caller_fuse_user (uint32_t tid, uint64_t id) {
  uint32_t user = UINT32_MAX;
  char proc[64], *line = NULL;
  size_t cap = 0;
  snprintf(proc, sizeof proc, "/proc/%u/mountinfo", tid);
  FILE *f = fopen(proc, "re");
  if (f == NULL) return UINT32_MAX;
  while (getline(&line, &cap, f) > 0) {
    if (strtoull(line, NULL, 10) != id) continue;
    char *dash = strstr(line, " - "), *s2 = NULL;
    if (dash == NULL) break;
    line[strcspn(line, "\n")] = 0;
    char *type = strtok_r(dash + 3, " ", &s2);
    if (type != NULL && strtok_r(NULL, " ", &s2) != NULL) user = fuse_user(type, strtok_r(NULL, " ", &s2));
    break;
  }
  free(line);
  fclose(f);
  return user;
}

// The mounter of FUSE mount `id` (UINT32_MAX: not FUSE, or not found): the daemon's table, else the
// caller's (mount ids are unique across namespaces).
uint32_t mount_fuse_user (uint32_t tid, uint64_t id) {
  uint32_t user = UINT32_MAX;
  int found = 0;
  pthread_mutex_lock(&mnt_mu);
  mounts_fresh();
  for (size_t i = 0; i < nmnts && !found; i++) if (mnts[i].id == id) { user = mnts[i].fuse_user; found = 1; }
  pthread_mutex_unlock(&mnt_mu);
  return found ? user : caller_fuse_user(tid, id);
}

// Whether `prefix` names `path` or a directory above it.
int above (const char *prefix, size_t plen, const char *path, size_t len) {
  return plen == 1 || (plen <= len && memcmp(prefix, path, plen) == 0 && (plen == len || path[plen] == '/'));
}

// How much of `path` remote mount `m` may stall (see on_remote): `len` when it is on a directory of the
// walk, the length of its parent when it sits there under a project file's name, else `remote` unchanged.
static size_t remote_reach (const mnt_t *m, const char *path, size_t len, size_t remote) {
  if (above(m->point, m->len, path, len)) return len;
  const char *slash = memrchr(m->point, '/', m->len);
  if (slash == NULL) return remote;
  size_t parent = slash == m->point ? 1 : (size_t) (slash - m->point);
  char name[256];
  size_t nlen = m->len - (size_t) (slash - m->point) - 1;
  if (nlen < sizeof name && parent > remote && above(m->point, parent, path, len)) {
    memcpy(name, slash + 1, nlen);
    name[nlen] = 0;
    if (relevant_name(name)) return parent;
  }
  return remote;
}

// Whether any mount a directory of `path` is on (those whose mount point is a prefix of it) is remote, or a
// remote mount sits where a walk looks for a project file (a mount point named like one, in a directory of
// the walk: stat'ing it asks that filesystem). 0 when neither, else the length of the nearest directory of
// the walk that may stall (`len` when the working directory itself may): those below it are local.
size_t on_remote (const char *path, size_t len) {
  size_t remote = 0;
  pthread_mutex_lock(&mnt_mu);
  mounts_fresh();
  if (mnts == NULL) remote = len;  // unknown: be careful
  for (size_t i = 0; i < nmnts && remote < len; i++) if (mnts[i].remote) remote = remote_reach(&mnts[i], path, len, remote);
  pthread_mutex_unlock(&mnt_mu);
  return remote;
}
