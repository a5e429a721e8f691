// The daemon's side of the exec-env helper (varsymfs-execenv.c, protocol in execenv_protocol.h): where
// the daemon may not read a caller's /proc/<tid>/syscall and mem itself (kernel.yama.ptrace_scope >= 1),
// it asks the helper for the environment a thread inside execve is passing to the new program.
#ifndef VARSYMFS_EXECENV_CLIENT_H
#define VARSYMFS_EXECENV_CLIENT_H
#include <stddef.h>
#include <errno.h>
#include <stdint.h>

// Once, before serving (not thread-safe): the helper to use (NULL: none), and whether the daemon must not
// read callers' syscall/mem itself (the helper path forced on, as Yama forces it). With a helper, starts
// one and asks it about this process (the self-probe). 1: the helper answers; 0: no helper; -errno: it
// could not start or refused the self-probe (then no helper is used).
int execenv_configure (const char *helper_path, int direct_disabled);

// True when the daemon must not read callers' /proc/<tid>/syscall and mem itself.
int execenv_direct_disabled (void);

// True when a helper is configured.
int execenv_enabled (void);

// The envp strings of thread `tid` if it is inside execve now, through the helper. From any thread, any
// number at once; waits at most about a second, and a helper that does not answer in time is killed (and
// started afresh on a later call). 1: *out is a malloc'd NUL-separated block of *out_len bytes; 0: not
// inside execve; -errno: the helper's refusal (execenv_protocol.h), or EXECENV_NO_ANSWER when no helper
// answered (it timed out, died, answered out of step, or would not start; ENOSYS: no helper).
int execenv_envp (int32_t tid, char **out, size_t *out_len);
#define EXECENV_NO_ANSWER (-ECOMM)   // none of the helper's refusals: a failure is never read as one

// Whether a refusal says the thread is inside execve but its envp may not be read (outside anonymous
// memory, past the exec bounds, changed while read): the direct path's refused pending exec.
int execenv_refused_in_exec (int status);

typedef struct {
  uint64_t asked;        // execenv_envp calls
  uint64_t answered;     // environments returned
  uint64_t not_in_exec;  // "not inside execve"
  uint64_t refused;      // the helper's refusals
  uint64_t failed;       // no answer: timeout, helper died or would not start
  uint64_t started;      // helpers started
} execenv_stats_t;

void execenv_get_stats (execenv_stats_t *out);

#endif
