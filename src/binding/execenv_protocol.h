// The exec-env helper's protocol, shared by the helper (varsymfs-execenv.c) and the daemon's client
// (execenv_client.c): one question, one answer, over a stream socket between two processes of one machine
// (native byte order). The helper reads questions on its fd 0 and writes answers on its fd 1.
//
//   helper -> daemon, once at start:  execenv_hello_t  (status 0: serving; -errno: cannot serve, exits)
//   daemon -> helper:                  execenv_request_t ("the envp strings of tid T, inside execve now")
//   helper -> daemon:                  execenv_answer_t, then `len` bytes when status is 1
//
// Answer status: 1 the envp strings follow, NUL-separated NAME=VALUE (the layout of /proc/<pid>/environ);
// 0 T is not inside execve/execveat; -errno a refusal (the table below and docs/security.md).
#ifndef VARSYMFS_EXECENV_PROTOCOL_H
#define VARSYMFS_EXECENV_PROTOCOL_H
#include "envp.h"
#include <stdint.h>

#define EXECENV_MAGIC 0x31455856u   // "VXE1"
#define EXECENV_VERSION 1u

// The kernel's own bound on what an exec can pass: argv and envp strings plus their pointers never exceed
// 3/4 of _STK_LIM (8 MiB), i.e. 6 MiB, whatever the stack rlimit (fs/exec.c, bprm_stack_limits), and no
// single string exceeds MAX_ARG_STRLEN (32 pages). An envp beyond either would fail with E2BIG anyway.
#define EXECENV_MAX_BYTES VSF_EXEC_MAX_BYTES   // the kernel's exec bounds (envp.h)
#define EXECENV_MAX_STRLEN VSF_EXEC_MAX_STRLEN

// Refusals (negative in the answer):
//   EINVAL  tid <= 0
//   ESRCH   T does not exist, or ended while being read
//   EPERM   T's real, effective, saved or filesystem uid or gid is not the caller's real uid/gid, or T holds
//           a capability the caller does not
//   EACCES  T is not dumpable, or the kernel refuses the caller itself read access to T (/proc/T/environ)
//   ENXIO   the envp array or a string lies outside private anonymous memory (a file-backed or shared
//           mapping: a page of a file on a FUSE mount could stall the read forever)
//   EFAULT  the envp array or a string is not mapped or not readable
//   E2BIG   more than EXECENV_MAX_BYTES, or a string longer than EXECENV_MAX_STRLEN
//   EAGAIN  T changed while being read (credentials, dumpability, syscall, memory layout)
typedef struct {
  uint32_t magic;
  uint32_t version;
  int32_t status;
  uint32_t uid;        // the real uid the helper answers for
} execenv_hello_t;

typedef struct {
  uint32_t seq;
  int32_t tid;
} execenv_request_t;

typedef struct {
  uint32_t seq;
  int32_t status;
  uint32_t len;
  uint32_t reserved;
} execenv_answer_t;

#endif
