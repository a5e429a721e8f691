// The /proc readers shared by the daemon and the exec-env helper (procfs.h).
#define _GNU_SOURCE
#include "procfs.h"
#include "envp.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <unistd.h>

ssize_t vsf_read_bounded (int fd, char **out, size_t max) {
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap + 1);
  if (buf == NULL) return -ENOMEM;
  for (;;) {
    if (len == cap) {
      if (cap >= max + 1) { free(buf); return -E2BIG; }
      size_t next = cap * 2 > max + 1 ? max + 1 : cap * 2;  // one byte past max tells "more than max"
      char *b = realloc(buf, next + 1);
      if (b == NULL) { free(buf); return -ENOMEM; }
      buf = b;
      cap = next;
    }
    ssize_t n = pread(fd, buf + len, cap - len, (off_t) len);
    if (n < 0) { if (errno == EINTR) continue; int e = errno; free(buf); return -e; }
    if (n == 0) break;
    len += (size_t) n;
  }
  if (len > max) { free(buf); return -E2BIG; }
  buf[len] = 0;
  *out = buf;
  return (ssize_t) len;
}

int vsf_parse_syscall (const char *text, uint64_t *envp) {
  long nr;
  unsigned long long a[6];
  // Inside a system call the kernel shows its number and all six arguments; anything else ("running",
  // "-1 sp pc") is not inside execve.
  if (sscanf(text, "%ld 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx", &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]) != 7) return 0;
  if (nr == NR_EXECVE) { *envp = a[2]; return 1; }
  if (nr == NR_EXECVEAT) { *envp = a[3]; return 1; }
  return 0;
}

// The four ids of a "\n<key>\t..." line.
static int ids (const char *text, const char *key, uint32_t out[4]) {
  const char *line = strstr(text, key);
  unsigned v[4];
  if (line == NULL || sscanf(line + strlen(key), "%u %u %u %u", &v[0], &v[1], &v[2], &v[3]) != 4) return -EIO;
  for (int i = 0; i < 4; i++) out[i] = v[i];
  return 0;
}

int vsf_parse_status (const char *text, vsf_status_t *out) {
  // Every key is matched at a line's start: the first line (Name) shows the caller's comm, whose newlines
  // the kernel escapes.
  memset(out, 0, sizeof *out);
  const char *pp = strstr(text, "\nPPid:"), *prm = strstr(text, "\nCapPrm:");
  if (pp != NULL) out->ppid = (int32_t) strtol(pp + 6, NULL, 10);
  unsigned long long caps;
  if (prm != NULL && sscanf(prm + 8, "%llx", &caps) == 1) { out->cap_permitted = caps; out->has_caps = 1; }
  return ids(text, "\nUid:", out->uid) < 0 || ids(text, "\nGid:", out->gid) < 0 ? -EIO : 0;
}

int vsf_auxv_secure (const char *auxv, size_t len) {
  for (size_t i = 0; i + 2 * sizeof(uint64_t) <= len; i += 2 * sizeof(uint64_t)) {
    uint64_t kv[2];
    memcpy(kv, auxv + i, sizeof kv);
    if (kv[0] == AT_SECURE) return kv[1] != 0;
    if (kv[0] == AT_NULL) break;
  }
  return 1;
}

int vsf_parse_layout (const char *text, uint64_t out[VSF_LAYOUT_FIELDS]) {
  static const int wanted[VSF_LAYOUT_FIELDS] = { 26, 27, 28, 45, 46, 47, 48, 49, 50, 51 };
  const char *p = strrchr(text, ')');   // the name (field 2) may hold spaces and parentheses
  if (p == NULL) return -EIO;
  int field = 2, k = 0;
  while (k < VSF_LAYOUT_FIELDS && *p != 0) {
    while (*p != 0 && *p != ' ') p++;
    while (*p == ' ') p++;
    if (*p == 0) break;
    field++;
    if (field == wanted[k]) out[k++] = strtoull(p, NULL, 10);
  }
  return k == VSF_LAYOUT_FIELDS ? 0 : -EIO;
}

int vsf_mapping_anonymous (const vsf_mapping_t *m) {
  const char *n = m->name;
  // "[stack:<tid>]" names a thread's stack before Linux 4.5. No file's name starts with '[' (a path starts
  // with '/'), and a caller's own names for its anonymous memory show as "[anon:<name>]".
  int anon_name = n[0] == 0 || strncmp(n, "[stack", 6) == 0 || strcmp(n, "[heap]") == 0 || strncmp(n, "[anon:", 6) == 0;
  return m->readable && m->private_ && m->dev_major == 0 && m->dev_minor == 0 && m->inode == 0 && anon_name;
}

// One line of /proc/<tid>/maps ("start-end perms offset major:minor inode name"): 0, or -1 when malformed.
static int parse_maps_line (const char *line, vsf_range_t *out) {
  unsigned long long start, end, inode;
  unsigned major, minor;
  char perms[8];
  int name_at = 0;
  if (sscanf(line, "%llx-%llx %7s %*s %x:%x %llu %n", &start, &end, perms, &major, &minor, &inode, &name_at) < 6) return -1;
  vsf_mapping_t m = { perms[0] == 'r', strlen(perms) >= 4 && perms[3] == 'p', major, minor, inode, name_at > 0 ? line + name_at : "" };
  *out = (vsf_range_t) { start, end, vsf_mapping_anonymous(&m) };
  return 0;
}

int vsf_parse_maps (char *text, size_t len, vsf_maps_t *out) {
  size_t lines = 0;
  for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
  out->n = 0;
  out->r = calloc(lines + 1, sizeof(vsf_range_t));
  if (out->r == NULL) return -ENOMEM;
  // A name's newline is shown escaped ("\012"): each line is one mapping.
  for (char *line = text, *end = text + len; line < end;) {
    char *nl = memchr(line, '\n', (size_t) (end - line));
    if (nl == NULL) nl = end;
    *nl = 0;
    if (parse_maps_line(line, &out->r[out->n]) == 0) out->n++;
    line = nl + 1;
  }
  return 0;
}

int vsf_maps_check (const vsf_maps_t *m, uint64_t lo, uint64_t hi) {
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

#ifndef PROCMAP_QUERY
struct procmap_query {
  uint64_t size, query_flags, query_addr, vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
  uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
  uint64_t vma_name_addr, build_id_addr;
};
#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
#define PROCMAP_QUERY_VMA_READABLE 0x01
#define PROCMAP_QUERY_VMA_SHARED 0x08
#endif

int vsf_query_anonymous (int maps_fd, uint64_t addr, vsf_range_t *out) {
  char name[4096];
  struct procmap_query q = { .size = sizeof q, .query_addr = addr, .vma_name_size = sizeof name, .vma_name_addr = (uint64_t) (uintptr_t) name };
  if (ioctl(maps_fd, PROCMAP_QUERY, &q) < 0) {
    // Not mapped; or a name longer than any anonymous memory's: a file's.
    if (errno == ENOENT || errno == ENAMETOOLONG) return 0;
    return -errno;
  }
  if (q.vma_name_size == 0) name[0] = 0;
  vsf_mapping_t m = { (q.vma_flags & PROCMAP_QUERY_VMA_READABLE) != 0, !(q.vma_flags & PROCMAP_QUERY_VMA_SHARED), q.dev_major, q.dev_minor, q.inode, name };
  if (!vsf_mapping_anonymous(&m)) return 0;
  *out = (vsf_range_t) { q.vma_start, q.vma_end, 1 };
  return 1;
}
