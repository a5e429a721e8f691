// The project files' bytes for JS: one vsf_project_record_t each (varsymfs.h), the directory's path, and the
// bytes, read as the caller (creds.c, in a root daemon serving others). Only a file that counts for the
// caller (trust.c) is read; reads are bounded (VSF_PROJECT_FILE_MAX, CONTENTS_MAX in all) and never block on
// a FIFO. A file that is no longer what the walk saw is judged and read as it is now, and the state is then
// not to be kept.
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

// Room for `more` bytes at the end of the block (grown as a file read turns out larger than the walk saw);
// 0 when it would pass CONTENTS_MAX.
static int room (vsf_project_t *p, size_t *cap, size_t n, size_t more) {
  if (n + more <= *cap) return 1;
  if (n + more > CONTENTS_MAX) return 0;
  size_t want = *cap * 2 > n + more ? *cap * 2 : n + more;
  if (want > CONTENTS_MAX) want = CONTENTS_MAX;
  char *b = realloc(p->block, want + 1);
  if (b == NULL) return 0;
  p->block = b;
  *cap = want;
  return 1;
}

// Opens record r's file for reading, as the caller: -errno. A symlinked one (outside the mount) only
// while its link is still trusted (-EPERM when it is not; *owner: the link's owner).
static int open_record (vsf_project_t *p, const record_t *r, int cwd_fd, int root_fd, uint32_t *owner) {
  const int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  const char *name = vsf_config.project_names[r->name];
  size_t dlen = p->ends[r->depth];
  char dir[PATH_MAX], full[PATH_MAX];
  memcpy(dir, p->cwd, dlen);
  dir[dlen] = 0;
  if (inside_mount(dir, dlen)) {
    const char *b = backing(dir, dlen);
    if ((size_t) (strcmp(b, ".") == 0 ? snprintf(full, sizeof full, "%s", name) : snprintf(full, sizeof full, "%s/%s", b, name)) >= sizeof full) return -ENAMETOOLONG;
    return vsf_safe_open(full, flags | O_NOFOLLOW, 0);
  }
  if (r->relative) {
    if (cwd_fd < 0 || !relative(full, r->depth, name)) return -EACCES;
    int fd = openat(cwd_fd, full, flags | O_NOFOLLOW);
    return fd < 0 ? -errno : fd;
  }
  if (!join(full, dir, dlen, name)) return -ENAMETOOLONG;
  if (!r->link) return open_in_root_how(p, root_fd, full, flags | O_NOFOLLOW, nested(name) ? RESOLVE_NO_SYMLINKS : 0);
  int lfd = open_in_root(p, root_fd, full, O_PATH | O_NOFOLLOW);
  struct statx st;
  int e = lfd < 0 ? lfd : sx(lfd, "", AT_EMPTY_PATH, &st);
  if (lfd >= 0) close(lfd);
  if (e < 0) return e;
  if (S_ISLNK(st.stx_mode) && judge(p, r->depth, &st, owner) != 0) return -EPERM;
  return open_in_root(p, root_fd, full, flags);
}

// One block being filled: its capacity, and the fds the files are opened through.
typedef struct {
  size_t cap;
  int cwd_fd;             // the directory the walk named (locate), not the cwd now; -1 inside the mount
  int root_fd;            // the caller's root: also for the directories above a mount point the cwd is under
} filling_t;

// One record's entry in the block: its head, where its bytes go, and how many were read.
typedef struct {
  const record_t *r;
  vsf_project_record_t head;
  size_t at;
  uint32_t len;
} entry_t;

// Reads the opened file `fd` (or the error opening it) for entry e: its status and bytes.
static void read_file (vsf_project_t *p, filling_t *b, entry_t *e, int fd) {
  const record_t *r = e->r;
  struct statx st;
  uint32_t verdict;
  if (fd == -EPERM && r->link) { e->head.status = VSF_FILE_UNTRUSTED; p->state = 0; }
  else if (fd >= 0 && sx(fd, "", AT_EMPTY_PATH, &st) == 0) {
    int same = st.stx_ino == r->ino && makedev(st.stx_dev_major, st.stx_dev_minor) == r->dev && st.stx_ctime.tv_sec == r->cs && st.stx_ctime.tv_nsec == r->cns && (int64_t) st.stx_size == r->size && S_ISREG(st.stx_mode);
    // Changed since the walk (a new file renamed into place, an edit): what was opened, judged by the
    // same rules; right for this request, not to be kept.
    if (!same) p->state = 0;
    if (!S_ISREG(st.stx_mode)) e->head.status = VSF_FILE_NOT_REGULAR;
    else if (st.stx_size > VSF_PROJECT_FILE_MAX) e->head.status = VSF_FILE_TOO_LARGE;
    else if ((verdict = judge(p, r->depth, &st, &e->head.owner)) != 0) e->head.status = verdict;
    else if (!room(p, &b->cap, e->at, (size_t) st.stx_size)) p->state = 0;
    else {
      while (e->len < (uint32_t) st.stx_size) {
        ssize_t got = pread(fd, p->block + e->at + e->len, (size_t) st.stx_size - e->len, e->len);
        if (got <= 0) break;
        e->len += (uint32_t) got;
      }
      e->head.status = e->len == (uint32_t) st.stx_size ? VSF_FILE_READ : VSF_FILE_UNREADABLE;
      if (e->head.status != VSF_FILE_READ) { e->len = 0; p->state = 0; }
    }
  } else if (fd != -EACCES) p->state = 0;  // gone since the walk: absent now, but not to be kept
}

// Record r's entry at offset n of the block: the offset of the next one; 0 when the block is full (the
// state is then not to be kept).
static size_t add_entry (vsf_project_t *p, filling_t *b, const record_t *r, size_t n) {
  size_t dlen = p->ends[r->depth];
  entry_t e = { r, { r->depth, r->name, VSF_FILE_UNREADABLE, 0, (uint32_t) dlen }, n + sizeof e.head + dlen + 4, 0 };
  if (!room(p, &b->cap, n, sizeof e.head + dlen + 4)) { p->state = 0; return 0; }
  if (r->verdict != 0) { e.head.status = r->verdict; e.head.owner = r->owner; }
  else if (r->error == 0 && !S_ISREG(r->mode)) e.head.status = VSF_FILE_NOT_REGULAR;
  else if (r->error == 0 && r->size > VSF_PROJECT_FILE_MAX) e.head.status = VSF_FILE_TOO_LARGE;
  else if (r->error == 0) {
    int fd = open_record(p, r, b->cwd_fd, b->root_fd, &e.head.owner);
    read_file(p, b, &e, fd);
    if (fd >= 0) close(fd);
  }
  memcpy(p->block + n, &e.head, sizeof e.head);
  memcpy(p->block + n + sizeof e.head, p->cwd, dlen);
  memcpy(p->block + n + sizeof e.head + dlen, &e.len, 4);
  return e.at + e.len;
}

// The block's first size: every record's head and path, and the bytes of each file the walk saw that may
// be read.
static size_t first_size (const vsf_project_t *p) {
  size_t cap = 0;
  for (uint32_t k = 0; k < p->nrec; k++) {
    const record_t *r = &p->rec[k];
    cap += sizeof(vsf_project_record_t) + 4 + p->ends[r->depth] + (r->verdict == 0 && r->error == 0 && S_ISREG(r->mode) && r->size <= VSF_PROJECT_FILE_MAX ? (size_t) r->size : 0);
  }
  return cap;
}

// Reads the walk's files for JS, as the caller: one entry each, into p->block (p->block_len bytes). A file
// that is no longer what the walk saw (replaced by a rename, edited) is judged and read as it is now (never
// taken for absent), and the state is then not to be kept.
void contents (vsf_project_t *p) {
  filling_t b = { first_size(p), p->inside ? -1 : p->cwd_fd, -1 };
  if (b.cap > CONTENTS_MAX) { p->status = VSF_PROJECT_FAILED; p->state = 0; return; }
  p->block = malloc(b.cap + 1);
  if (p->block == NULL) { p->status = VSF_PROJECT_FAILED; p->state = 0; return; }
  b.root_fd = open_proc_dir(p->req.pid, "root");
  vsf_creds_t creds = { 0 };
  gid_t groups[VSF_GROUPS_MAX];
  uint64_t caps;
  uint32_t nrec = p->nrec;
  if (p->act && vsf_become_caller_groups(&p->req, &creds, groups, VSF_GROUPS_MAX, &caps) < 0) { p->state = 0; nrec = 0; }
  size_t n = 0;
  for (uint32_t k = 0; k < nrec; k++) {
    size_t next = add_entry(p, &b, &p->rec[k], n);
    if (next == 0) break;
    n = next;
  }
  if (p->act) vsf_restore_creds(&creds);
  if (b.root_fd >= 0) close(b.root_fd);
  p->block_len = n;
}
