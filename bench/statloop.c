// statloop: the client of the hot-path benchmark. `statloop PATH N` stats PATH N times in this process
// and prints the elapsed nanoseconds; `statloop --fork PATH N` forks N children that each stat PATH once
// (a new process, so a cold cache entry, every time). A compiled loop, so per-call overhead is ~1 µs and
// does not hide the filesystem.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main (int argc, char **argv) {
  int fork_mode = argc > 1 && strcmp(argv[1], "--fork") == 0;
  if (argc != 3 + fork_mode) {
    fprintf(stderr, "usage: statloop [--fork] PATH N\n");
    return 2;
  }
  const char *path = argv[1 + fork_mode];
  long n = atol(argv[2 + fork_mode]);
  struct stat st;
  if (stat(path, &st) != 0) { perror(path); return 1; }
  long long start = now_ns();
  for (long i = 0; i < n; i++) {
    if (fork_mode) {
      pid_t pid = fork();
      if (pid == 0) _exit(stat(path, &st) == 0 ? 0 : 1);
      int status;
      waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { fprintf(stderr, "stat failed in child\n"); return 1; }
    } else if (stat(path, &st) != 0) {
      perror(path);
      return 1;
    }
  }
  printf("%lld\n", now_ns() - start);
  return 0;
}
