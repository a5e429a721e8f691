// The envp reader shared by the daemon and the exec-env helper (envp.h).
#include "envp.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096u

// The rest of the page at `addr` (one page per read never runs into an unmapped neighbour).
static ssize_t window (vsf_page_reader_t read_page, void *ctx, uint64_t addr, char *buf) {
  ssize_t n = read_page(ctx, addr, buf, PAGE - (size_t) (addr & (PAGE - 1)));
  return n == 0 ? -EFAULT : n;
}

// The pointer at `at`, which may cross into the next page (the kernel accepts that).
static int pointer (vsf_page_reader_t read_page, void *ctx, uint64_t at, uint64_t *out) {
  char bytes[8];
  size_t got = 0;
  while (got < 8) {
    ssize_t n = read_page(ctx, at + got, bytes + got, 8 - got < PAGE - ((at + got) & (PAGE - 1)) ? 8 - got : PAGE - ((at + got) & (PAGE - 1)));
    if (n <= 0) return n < 0 ? (int) n : -EFAULT;
    got += (size_t) n;
  }
  memcpy(out, bytes, 8);
  return 0;
}

int vsf_read_envp (uint64_t envp, vsf_page_reader_t read_page, void *ctx, char **out, size_t *out_len) {
  size_t cap = 4096, len = 0, budget = VSF_EXEC_MAX_BYTES;
  char *buf = malloc(cap), *win = malloc(PAGE);
  uint64_t win_at = 0;
  ssize_t win_len = 0;
  int rc = 0;
  if (buf == NULL || win == NULL) { rc = -ENOMEM; goto done; }
  if (envp == 0) goto done;  // execve with envp NULL: an empty environment
  for (uint64_t i = 0;; i++) {
    uint64_t at = envp + 8u * i, ptr = 0;
    if (at < envp) { rc = -EFAULT; goto done; }
    if (budget < 8) { rc = -E2BIG; goto done; }
    budget -= 8;
    if ((rc = pointer(read_page, ctx, at, &ptr)) < 0) goto done;
    if (ptr == 0) break;
    size_t strlen_so_far = 0;
    for (;;) {  // one string, until its NUL, through the window
      if (ptr < win_at || ptr >= win_at + (uint64_t) win_len) {
        win_at = ptr;
        win_len = window(read_page, ctx, ptr, win);
        if (win_len < 0) { rc = (int) win_len; goto done; }
      }
      size_t off = (size_t) (ptr - win_at), avail = (size_t) win_len - off;
      char *nul = memchr(win + off, 0, avail);
      size_t take = nul != NULL ? (size_t) (nul - (win + off)) + 1 : avail;
      strlen_so_far += take;
      if (take > budget || strlen_so_far > VSF_EXEC_MAX_STRLEN) { rc = -E2BIG; goto done; }
      budget -= take;
      if (cap - len < take) {
        while (cap - len < take) cap *= 2;
        char *b = realloc(buf, cap);
        if (b == NULL) { rc = -ENOMEM; goto done; }
        buf = b;
      }
      memcpy(buf + len, win + off, take);
      len += take;
      ptr += take;
      if (nul != NULL) break;
    }
  }
done:
  free(win);
  if (rc < 0) { free(buf); return rc; }
  *out = buf;
  *out_len = len;
  return 0;
}
