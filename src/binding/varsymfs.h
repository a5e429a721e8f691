// The one contract between the patched fuse-native (fuse-native.c, through src/binding/fuse-native+2.2.6.patch)
// and varsymfs's addon (the other files here), and, through the addon's `layout` export, the TypeScript side.
//
// Every FUSE request runs `vsf_hook` on the FUSE worker thread that received it. The hook either answers it
// there (returns VSF_DONE with `res` set: -errno, or the op's result) or passes it to JS (VSF_PASS) after
// leaving what JS needs in the request's slot (vsf_slot_t, at the start of the thread's locals buffer). JS
// then replies through fuse-native as usual. Nothing here is copied by hand elsewhere: fuse-native.c
// _Static_asserts its op numbers against VSF_OP_*, and JS reads every offset and code from `layout`.
#ifndef VARSYMFS_H
#define VARSYMFS_H

#include <stdint.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

// fuse-native's op numbers (its `op_*` constants).
enum vsf_op {
  VSF_OP_INIT = 0, VSF_OP_ERROR = 1, VSF_OP_ACCESS = 2, VSF_OP_STATFS = 3, VSF_OP_FGETATTR = 4, VSF_OP_GETATTR = 5,
  VSF_OP_FLUSH = 6, VSF_OP_FSYNC = 7, VSF_OP_FSYNCDIR = 8, VSF_OP_READDIR = 9, VSF_OP_TRUNCATE = 10,
  VSF_OP_FTRUNCATE = 11, VSF_OP_UTIMENS = 12, VSF_OP_READLINK = 13, VSF_OP_CHOWN = 14, VSF_OP_CHMOD = 15,
  VSF_OP_MKNOD = 16, VSF_OP_SETXATTR = 17, VSF_OP_GETXATTR = 18, VSF_OP_LISTXATTR = 19, VSF_OP_REMOVEXATTR = 20,
  VSF_OP_OPEN = 21, VSF_OP_OPENDIR = 22, VSF_OP_READ = 23, VSF_OP_WRITE = 24, VSF_OP_RELEASE = 25,
  VSF_OP_RELEASEDIR = 26, VSF_OP_CREATE = 27, VSF_OP_UNLINK = 28, VSF_OP_RENAME = 29, VSF_OP_LINK = 30,
  VSF_OP_SYMLINK = 31, VSF_OP_MKDIR = 32, VSF_OP_RMDIR = 33,
  VSF_OP_COUNT = 34
};
#define VSF_OP_NAMES { "init", "error", "access", "statfs", "fgetattr", "getattr", "flush", "fsync", "fsyncdir", \
  "readdir", "truncate", "ftruncate", "utimens", "readlink", "chown", "chmod", "mknod", "setxattr", "getxattr", \
  "listxattr", "removexattr", "open", "opendir", "read", "write", "release", "releasedir", "create", "unlink", \
  "rename", "link", "symlink", "mkdir", "rmdir" }

// libfuse's fuse_fill_dir_t, without including fuse.h here.
typedef int (*vsf_filler_t)(void *buf, const char *name, const struct stat *st, off_t off);

// One request, as libfuse handed it over. Only the fields of the request's op are meaningful.
typedef struct {
  uint32_t op;
  uint32_t pid, uid, gid, umask;  // the caller (fuse_get_context)
  const char *path;               // NULL for an open file libfuse cannot name (flag_nullpath_ok)
  const char *dest;               // rename/link: the new path; symlink: the link's path (path is its target)
  const char *name;               // xattr name
  const char *value;              // setxattr value
  char *buf;                      // read/write data; readlink, getxattr, listxattr output; readdir filler buffer
  size_t len;                     // read/write length; readlink buffer size
  size_t size;                    // xattr value/list size (0: the caller asks for the size)
  off_t offset;                   // read/write offset; (f)truncate length; readdir offset
  uint64_t *fh;                   // the file handle (open/create/opendir set it); NULL when the op has none
  int32_t flags;                  // open flags; setxattr flags; fsync datasync
  uint32_t mode;
  uint64_t dev;
  uint32_t owner_uid, owner_gid;  // chown
  struct timespec times[2];       // utimens
  struct stat *stat;              // getattr/fgetattr output
  struct statvfs *statvfs;        // statfs output
  vsf_filler_t filler;            // readdir
  int32_t res;                    // out, with VSF_DONE
} vsf_request_t;

#define VSF_PASS 0
#define VSF_DONE 1
typedef int (*vsf_hook_t)(vsf_request_t *req, char *slot);

// What a request passed to JS carries in its slot.
enum vsf_status {
  VSF_NONE = 0,          // the hook did nothing: JS must not act on the request (a bug; it replies EIO)
  VSF_RESOLVE = 1,       // a variant link to expand: target, stat (getattr) and the caller's environment
};

// Where the caller's environment came from (vsf_slot_t.source).
enum vsf_source {
  VSF_ENV_CACHED = 1,      // its program's environment, unchanged since generation `generation` was read
  VSF_ENV_FRESH = 2,       // its program's environment, read now (generation 0: not cached)
  VSF_ENV_EXEC = 3,        // the environment it is passing to execve (pending exec)
  VSF_ENV_UNREADABLE = 4,  // none could be read: gone, another user's, pid 0, exec env refused
  VSF_ENV_SECURE = 5,      // a secure exec (setuid/setgid/capabilities) or changed credentials: not used
  VSF_ENV_LINK_OWNER = 6,  // another user's link (enum vsf_link_owner VSF_LINK_OTHER): the environment is not read
};

// Whose link it is, as the rule in callers.c (vsf_link_owner_rule) sees it: only a link of the follower (the
// request's fs uid), of root or of the mount's owner (the daemon's uid) reads the follower's environment and
// pending exec (docs/security.md).
enum vsf_link_owner {
  VSF_LINK_FOLLOWER = 0,
  VSF_LINK_ROOT = 1,
  VSF_LINK_MOUNT_OWNER = 2,
  VSF_LINK_OTHER = 3,
};

// Why the pending-exec check could not run (vsf_slot_t.exec_check).
enum vsf_exec_check {
  VSF_EXEC_CHECKED = 0,    // it ran
  VSF_EXEC_DENIED = 1,     // no ptrace access to /proc/<tid>/syscall (Yama, another user): own environ used
  VSF_EXEC_REFUSED = 2,    // in execve, but its envp could not be read within the bounds (see semantics.md)
};

#define VSF_TARGET_MAX 4096   // PATH_MAX: a link target and an expansion, with their NUL

// The project scope (project/) of a request passed to JS (vsf_slot_t.project_status).
enum vsf_project_status {
  VSF_PROJECT_OFF = 0,        // not looked at: the scope is off (--no-project-files) or a secure exec
  VSF_PROJECT_WALKED = 1,     // walked: project_ptr holds the files found (none: project_len 0)
  VSF_PROJECT_NO_CWD = 2,     // the working directory is gone, unreachable, or outside the caller's root
  VSF_PROJECT_TIMED_OUT = 3,  // the walk was given up (a filesystem too slow): no project files this time
  VSF_PROJECT_FAILED = 4,     // the daemon could not walk (never answered: the request fails)
  VSF_PROJECT_PARTIAL = 5,    // walked up to a directory on a filesystem too slow: the files below it (not kept)
};
// project_state: the walk's interned state, the memo's key for answers that depend on it (0: not to be
// kept; VSF_PROJECT_EMPTY: no project file on the walk, or the scope skipped for a secure exec).
#define VSF_PROJECT_EMPTY 1
// project_ptr: records, each a vsf_project_record_t, then the directory's path (dir_len bytes), then u32
// content length and the bytes (none unless status is VSF_FILE_READ).
enum vsf_file_status {
  VSF_FILE_READ = 0,         // read: the bytes follow
  VSF_FILE_UNREADABLE = 1,   // the caller could not read it (or it went away)
  VSF_FILE_TOO_LARGE = 2,    // larger than VSF_PROJECT_FILE_MAX
  VSF_FILE_NOT_REGULAR = 3,  // not a regular file
  VSF_FILE_UNTRUSTED = 4,    // neither the caller's nor root's, nor under a --trust-dir: never read (owner: whose)
  VSF_FILE_WRITABLE = 5,     // the caller's or root's, but others may write it (group, other): never read (owner: whose)
};
typedef struct {
  uint32_t depth;          // 0: the working directory, 1: its parent, ...
  uint32_t name;           // the name's index in configure()'s projectFiles
  uint32_t status;         // enum vsf_file_status
  uint32_t owner;          // VSF_FILE_UNTRUSTED, _WRITABLE: the uid that made it so (the link's or the file's owner)
  uint32_t dir_len;
} vsf_project_record_t;
_Static_assert(sizeof(vsf_project_record_t) == 20, "vsf_project_record_t is packed u32s");
#define VSF_PROJECT_FILE_MAX 65536
#define VSF_PROJECT_NAMES_MAX 32
#define VSF_TRUST_DIRS_MAX 64    // --trust-dir directories

// fuse-native's stat encoding (the patch's populate_stat and getStatArray; vsf_encode_stat): the index of each
// field in an array of u32s; a 64-bit field takes two (low, then high), a time its seconds (two) then nanoseconds.
enum vsf_stat_index {
  VSF_STAT_MODE = 0, VSF_STAT_UID = 1, VSF_STAT_GID = 2, VSF_STAT_SIZE = 3, VSF_STAT_DEV = 5, VSF_STAT_NLINK = 6,
  VSF_STAT_INO = 7, VSF_STAT_RDEV = 9, VSF_STAT_BLKSIZE = 10, VSF_STAT_BLOCKS = 11, VSF_STAT_ATIME = 13,
  VSF_STAT_MTIME = 16, VSF_STAT_CTIME = 19,
  VSF_STAT_INTS = 22
};

typedef struct {
  int32_t status;          // enum vsf_status
  int32_t source;          // enum vsf_source
  int32_t exec_check;      // enum vsf_exec_check
  uint32_t target_len;
  uint32_t env_len;
  int32_t op;              // VSF_OP_GETATTR or VSF_OP_READLINK: the reply JS's answer is shaped into
  uint64_t generation;     // VSF_ENV_CACHED/FRESH: the environment's generation (0: not cacheable); 64 bits:
                           // it never comes round to one a live caller still holds (a memo key)
  uint64_t env_ptr;        // malloc'd environment block (NAME=VALUE\0...), owned by the slot
  int32_t project_status;  // enum vsf_project_status
  uint32_t project_state;
  uint32_t project_len;
  uint32_t reply_len;      // readlink: the size of the caller's buffer
  uint64_t project_ptr;    // malloc'd project block, owned by the slot
  uint32_t stat[VSF_STAT_INTS];  // getattr: the link's lstat, in fuse-native's stat encoding; the reply's after the answer
  char target[VSF_TARGET_MAX];   // the link's target; readlink: the reply's (its expansion) after the answer
  struct stat link_stat;         // getattr: the link's lstat (the reply is shaped from it)
  uint32_t share_uid;            // whose share (shares.c) the question holds until JS releases the slot
  uint32_t share_pad;
} vsf_slot_t;

// Which scopes answered a link's references (JS's answer, a bit each): an answer that only the caller's own
// environment or pending exec made does not depend on its project files.
enum vsf_scope {
  VSF_SCOPE_CALLER = 1,    // its environment or the environment it passes to execve
  VSF_SCOPE_PROJECT = 2,   // a project file
  VSF_SCOPE_OTHER = 4,     // the mount defaults, an inline fallback, or none (unresolved)
};

// The caller context at the start of a request's locals (the patch's caller_pid, _uid, _gid, _umask, which its
// context() reads): fuse_get_context()'s, recorded before the hook runs.
typedef struct {
  uint32_t pid, uid, gid, umask;
} vsf_caller_t;

// Room fuse-native reserves for the slot at the start of its locals (after the caller context).
#define VSF_SLOT_OFFSET 16
_Static_assert(sizeof(vsf_caller_t) == VSF_SLOT_OFFSET, "the slot follows the caller context");
#define VSF_SLOT_BYTES 4608

// The low-level path (src/binding/ops.c): libfuse's low-level API, whose replies carry a timeout per entry.
// fuse-native mounts a session with the addon's operations table (vsf_lowlevel_t.ops, a struct
// fuse_lowlevel_ops of ops_size bytes) and hands the addon, through bind(), what only it can do: the thread's
// slot, and the wait for JS's answer to a question left there. `session` is the session's userdata.
typedef struct {
  char *(*slot)(void *session);                   // this worker thread's slot (at VSF_SLOT_OFFSET of its locals)
  int (*pass)(void *session, vsf_request_t *r);   // getattr/readlink of r answered by JS (r->stat, r->buf): its result
  void (*init)(void *session);                    // JS's init (fuse-native's mount callback), once, at INIT
} vsf_js_t;
typedef struct {
  const void *ops;      // struct fuse_lowlevel_ops
  size_t ops_size;
  void (*bind)(const vsf_js_t *js);
} vsf_lowlevel_t;

#endif
