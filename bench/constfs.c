// constfs: the FUSE floor of the hot-path benchmark. A minimal libfuse2 filesystem whose root holds one
// symlink, "go", whose readlink returns a constant (the target given with -o target=...). Nothing else:
// what it costs is what any FUSE readlink costs on this machine.
#define FUSE_USE_VERSION 29
#include <errno.h>
#include <fuse.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

static struct { char *target; } conf;
static struct fuse_opt opts[] = { { "target=%s", offsetof(typeof(conf), target), 0 }, FUSE_OPT_END };

static int cf_getattr (const char *path, struct stat *st) {
  memset(st, 0, sizeof *st);
  if (strcmp(path, "/") == 0) { st->st_mode = S_IFDIR | 0755; st->st_nlink = 2; return 0; }
  if (strcmp(path, "/go") == 0) { st->st_mode = S_IFLNK | 0777; st->st_nlink = 1; st->st_size = (off_t) strlen(conf.target); return 0; }
  return -ENOENT;
}

static int cf_readlink (const char *path, char *buf, size_t size) {
  if (strcmp(path, "/go") != 0) return -ENOENT;
  strncpy(buf, conf.target, size - 1);
  buf[size - 1] = 0;
  return 0;
}

static struct fuse_operations ops = { .getattr = cf_getattr, .readlink = cf_readlink };

int main (int argc, char **argv) {
  struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
  if (fuse_opt_parse(&args, &conf, opts, NULL) != 0 || conf.target == NULL) return 2;
  return fuse_main(args.argc, args.argv, &ops, NULL);
}
