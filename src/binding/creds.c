// Acting as the caller. A root daemon serving other users runs each path operation with the caller's fs
// uid/gid and supplementary groups and with no effective capabilities, on the FUSE worker thread only:
// raw system calls, because glibc's setgroups/setuid wrappers change every thread of the process. With no
// capabilities the backing filesystem applies everything it would to the caller itself: permissions,
// setgid directories, quotas and reserved blocks (CAP_SYS_RESOURCE), and no trusted.* or
// security.capability xattr (CAP_SYS_ADMIN, CAP_SETFCAP) can be set through the daemon.
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct __user_cap_data_struct daemon_caps[2];
static gid_t *daemon_groups;
static int daemon_ngroups;

// Records the daemon's own capabilities and groups, to restore after each operation.
int vsf_creds_init (void) {
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  if (syscall(SYS_capget, &h, daemon_caps) != 0) return -errno;
  int n = getgroups(0, NULL);
  if (n < 0) return -errno;
  daemon_groups = calloc((size_t) n + 1, sizeof(gid_t));
  if (daemon_groups == NULL) return -ENOMEM;
  daemon_ngroups = getgroups(n, daemon_groups);
  return daemon_ngroups < 0 ? -errno : 0;
}

// The caller's supplementary groups, from /proc/<tid>/status ("Groups:\t1 2 3"); -errno when they cannot
// be known (the caller is gone or in another pid namespace, or the daemon is out of fds): then the
// operation is refused, since fewer groups can also grant more (a group-deny ACL entry, mode 0604).
static int caller_groups (uint32_t tid, gid_t *groups, int max, uint64_t *cap_eff) {
  // The whole file: a Groups line of VSF_GROUPS_MAX ten-digit ids is ~11 KiB. One that does not fit is
  // refused, never parsed cut short (a cut list, or a cut number, is other groups).
  enum { STATUS_MAX = 64 * 1024 };
  char path[64];
  if (tid == 0) return -EACCES;
  snprintf(path, sizeof path, "/proc/%u/status", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  char *buf = malloc(STATUS_MAX);
  if (buf == NULL) { close(fd); return -ENOMEM; }
  size_t n = 0;
  for (;;) {
    ssize_t got = read(fd, buf + n, STATUS_MAX - 1 - n);
    if (got < 0) { int e = errno; close(fd); free(buf); return -e; }
    if (got == 0) break;
    n += (size_t) got;
    if (n == STATUS_MAX - 1) { close(fd); free(buf); return -EACCES; }
  }
  close(fd);
  if (n == 0) { free(buf); return -ESRCH; }
  buf[n] = 0;
  int count = -EACCES;
  char *eff = strstr(buf, "\nCapEff:");
  char *line = strstr(buf, "\nGroups:");
  if ((cap_eff != NULL && eff == NULL) || line == NULL || strchr(line + 1, '\n') == NULL) goto out;
  if (cap_eff != NULL) *cap_eff = strtoull(eff + 8, NULL, 16);
  char *p = line + 8, *end, *eol = strchr(line + 1, '\n');
  count = 0;
  for (;;) {
    while (p < eol && (*p == ' ' || *p == '\t')) p++;
    if (p >= eol) break;
    if (count == max) { count = -EACCES; break; }  // more groups than room: refused rather than guessed
    unsigned long g = strtoul(p, &end, 10);
    if (end == p || end > eol) { count = -EACCES; break; }
    groups[count++] = (gid_t) g;
    p = end;
  }
out:
  free(buf);
  return count;
}

// Whether `tid` is in the daemon's own user namespace (its capabilities count there); 0 if not or unknown.
static int same_user_ns (uint32_t tid) {
  char path[64], a[64], b[64];
  snprintf(path, sizeof path, "/proc/%u/ns/user", tid);
  ssize_t n = readlink(path, a, sizeof a - 1), m = readlink("/proc/self/ns/user", b, sizeof b - 1);
  return n > 0 && m > 0 && n == m && memcmp(a, b, (size_t) n) == 0;
}

static int set_effective_caps (int on, uint64_t mask) {
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  memcpy(d, daemon_caps, sizeof d);
  if (!on) d[0].effective = d[1].effective = 0;
  if (on == 2) { d[0].effective &= (uint32_t) mask; d[1].effective &= (uint32_t) (mask >> 32); }
  return syscall(SYS_capset, &h, d) == 0 ? 0 : -errno;
}

// `with_groups` 0: no supplementary groups (writes to an open file, where only reserved blocks and
// quotas are decided, and fewer groups can only deny more). `out`: the groups taken, for the caller.
static int become (const vsf_request_t *r, vsf_creds_t *saved, int with_groups, gid_t *out, int max, uint64_t *caps) {
  saved->active = 0;
  // uid 0 keeps the daemon's rights in path operations (the kernel has checked the caller's own against
  // the mount); reading files outside the mount for it (`caps`) takes its own capabilities too.
  if (caps != NULL ? !vsf_config.root_daemon : (!vsf_config.act_as_caller || r->uid == 0)) return 0;
  gid_t groups[VSF_GROUPS_MAX];
  int n = with_groups ? caller_groups(r->pid, groups, VSF_GROUPS_MAX, r->uid == 0 ? caps : NULL) : 0;
  if (n < 0) return n;
  if (n > max) return -EACCES;
  // A uid-0 caller's capabilities count only in its own user namespace: outside the daemon's, none.
  if (caps != NULL && r->uid == 0 && !same_user_ns(r->pid)) *caps = 0;
  if (out != NULL) memcpy(out, groups, sizeof(gid_t) * (size_t) n);
  saved->active = 1;
  if (syscall(SYS_setgroups, (size_t) n, groups) != 0) goto fail;
  syscall(SYS_setfsgid, r->gid);
  syscall(SYS_setfsuid, r->uid);
  // setfs[ug]id report the previous id, never an error: read the new ones back.
  if ((uint32_t) syscall(SYS_setfsgid, -1) != r->gid || (uint32_t) syscall(SYS_setfsuid, -1) != r->uid) { errno = EPERM; goto fail; }
  if (set_effective_caps(r->uid == 0 ? 2 : 0, caps != NULL ? *caps : 0) != 0) goto fail;
  if (caps != NULL && r->uid != 0) *caps = 0;
  return n;
fail:;
  int e = errno;
  vsf_restore_creds(saved);
  return -e;
}

int vsf_become_caller (const vsf_request_t *r, vsf_creds_t *saved, int with_groups) {
  int n = become(r, saved, with_groups, NULL, VSF_GROUPS_MAX, NULL);
  return n < 0 ? n : 0;
}

int vsf_become_caller_groups (const vsf_request_t *r, vsf_creds_t *saved, gid_t *groups, int max, uint64_t *caps) {
  *caps = 0;
  return become(r, saved, 1, groups, max, caps);
}

// A write the kernel sends on its own (a shared mapping's writeback), as the user who opened the file: its
// fs ids, no supplementary groups, and of the daemon's capabilities only CAP_FSETID. Reserved blocks and
// quotas apply as to that user; the set-id bits stay, as the store keeps them for writes to a mapping
// (only write(2) and truncate clear them there). An opener that is root stays the daemon.
int vsf_become_opener (uint32_t uid, uint32_t gid, vsf_creds_t *saved) {
  vsf_request_t r = { .uid = uid, .gid = gid };
  int e = vsf_become_caller(&r, saved, 0);
  if (e < 0 || !saved->active) return e;
  e = set_effective_caps(2, (uint64_t) 1 << CAP_FSETID);
  if (e < 0) vsf_restore_creds(saved);
  return e;
}

// Back to the daemon's own credentials. A thread that cannot get them back must not serve anyone else.
void vsf_restore_creds (vsf_creds_t *saved) {
  if (!saved->active) return;
  saved->active = 0;
  if (set_effective_caps(1, 0) != 0) abort();
  syscall(SYS_setfsuid, 0);
  syscall(SYS_setfsgid, 0);
  if (syscall(SYS_setgroups, (size_t) daemon_ngroups, daemon_groups) != 0) abort();
  if (syscall(SYS_setfsuid, -1) != 0 || syscall(SYS_setfsgid, -1) != 0) abort();
}
