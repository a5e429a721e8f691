// varsymfs_native: what JS sees of the C side. The hook (handed to fuse-native's setHook), its
// configuration, the slot layout and codes (so that TS copies no number by hand), JS's answer, the
// counters `status` reads, and the uncached caller probe on libuv's thread pool for `resolve --explain`.
#include "internal.h"
#include "execenv_napi.h"
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, "EINVAL", "varsymfs_native: bad arguments"); return NULL; } } while (0)

static napi_value hook (napi_env env, napi_callback_info info) {
  napi_value ext;
  CHECK(napi_create_external(env, (void *) vsf_hook, NULL, NULL, &ext));
  return ext;
}

// The low-level operations (lowlevel.c), for fuse-native's setHook: mounts then run a low-level session.
static napi_value lowlevel (napi_env env, napi_callback_info info) {
  napi_value ext;
  CHECK(napi_create_external(env, (void *) &vsf_lowlevel, NULL, NULL, &ext));
  return ext;
}

static char *string_arg (napi_env env, napi_value v, char *buf, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok || len >= size - 1) return NULL;
  return buf;
}

// A named array property of the configuration: its length (at most `max`), or -1 with an error thrown.
static int64_t array_of (napi_env env, napi_value config, const char *name, napi_value *arr, uint32_t max, const char *too_many) {
  uint32_t n = 0;
  if (napi_get_named_property(env, config, name, arr) != napi_ok || napi_get_array_length(env, *arr, &n) != napi_ok) { napi_throw_error(env, "EINVAL", "varsymfs_native: bad arguments"); return -1; }
  if (n > max) { napi_throw_error(env, "EINVAL", too_many); return -1; }
  return n;
}

// openers and projectFiles: short strings into fixed rows of vsf_config. Their count, or -1 (thrown).
static int64_t strings_of (napi_env env, napi_value config, const char *name, char *rows, size_t row, uint32_t max) {
  napi_value arr, o;
  int64_t n = array_of(env, config, name, &arr, max, "too many strings in the configuration");
  for (uint32_t i = 0; n > 0 && i < n; i++) {
    if (napi_get_element(env, arr, i, &o) != napi_ok || string_arg(env, o, rows + i * row, row) == NULL) { napi_throw_error(env, "EINVAL", "a string of the configuration is too long"); return -1; }
  }
  return n;
}

// trustDirs: absolute directories whose project files count whoever owns them (--trust-dir). 0, or -1 (thrown).
static int trust_dirs_of (napi_env env, napi_value config) {
  napi_value arr, o;
  int64_t n = array_of(env, config, "trustDirs", &arr, VSF_TRUST_DIRS_MAX, "too many trusted directories");
  for (uint32_t i = 0; n > 0 && i < n; i++) {
    char dir[4096];
    if (napi_get_element(env, arr, i, &o) != napi_ok || string_arg(env, o, dir, sizeof dir) == NULL || dir[0] != '/') { napi_throw_error(env, "EINVAL", "a trusted directory must be an absolute path"); return -1; }
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') dir[--len] = 0;
    free(vsf_config.trust_dirs[i]);
    if ((vsf_config.trust_dirs[i] = strdup(dir)) == NULL) { napi_throw_error(env, "ENOMEM", "out of memory"); return -1; }
    vsf_config.trust_lens[i] = len;
  }
  if (n >= 0) vsf_config.trust_count = (uint32_t) n;
  return n < 0 ? -1 : 0;
}

// The numbers and flags of the configuration. 0, or -1 (thrown).
static int numbers_of (napi_env env, napi_value config) {
  napi_value v;
  bool act = false;
  int64_t stride = 1;
  if (napi_get_named_property(env, config, "cacheSize", &v) != napi_ok || napi_get_value_uint32(env, v, &vsf_config.cache_max) != napi_ok ||
      napi_get_named_property(env, config, "actAsCaller", &v) != napi_ok || napi_get_value_bool(env, v, &act) != napi_ok ||
      napi_get_named_property(env, config, "projectTimeoutMs", &v) != napi_ok || napi_get_value_uint32(env, v, &vsf_config.project_timeout_ms) != napi_ok ||
      napi_get_named_property(env, config, "generationStride", &v) != napi_ok || napi_get_value_int64(env, v, &stride) != napi_ok) {
    napi_throw_error(env, "EINVAL", "varsymfs_native: bad arguments");
    return -1;
  }
  vsf_config.act_as_caller = act;
  vsf_config.generation_stride = stride > 0 ? (uint64_t) stride : 1;
  // kernel: { entryTimeout, attrTimeout, negativeTimeout, pages } (the low-level path; absent: nothing kept).
  napi_value k;
  bool has = false;
  if (napi_has_named_property(env, config, "kernel", &has) == napi_ok && has && napi_get_named_property(env, config, "kernel", &k) == napi_ok) {
    int32_t pages = 0;
    if (napi_get_named_property(env, k, "entryTimeout", &v) != napi_ok || napi_get_value_double(env, v, &vsf_config.entry_timeout) != napi_ok ||
        napi_get_named_property(env, k, "attrTimeout", &v) != napi_ok || napi_get_value_double(env, v, &vsf_config.attr_timeout) != napi_ok ||
        napi_get_named_property(env, k, "negativeTimeout", &v) != napi_ok || napi_get_value_double(env, v, &vsf_config.negative_timeout) != napi_ok ||
        napi_get_named_property(env, k, "pages", &v) != napi_ok || napi_get_value_int32(env, v, &pages) != napi_ok) {
      napi_throw_error(env, "EINVAL", "varsymfs_native: bad arguments");
      return -1;
    }
    vsf_config.pages = pages;
  }
  return 0;
}

// A string property of the configuration into buf (its length), or -1 (thrown: "<name> too long").
static int64_t string_of (napi_env env, napi_value config, const char *name, char *buf, size_t size) {
  napi_value v;
  char what[64];
  if (napi_get_named_property(env, config, name, &v) == napi_ok && string_arg(env, v, buf, size) != NULL) return (int64_t) strlen(buf);
  snprintf(what, sizeof what, "%s too long", name);
  napi_throw_error(env, "EINVAL", what);
  return -1;
}

// configure({ cacheSize, reservedName, actAsCaller, openers: ['$<', '${'], projectFiles, trustDirs,
// projectTimeoutMs, mountPoint, generationStride }): once, before mounting.
static napi_value configure (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t reserved, openers, names, mount_point;
  if (numbers_of(env, argv[0]) < 0 ||
      (reserved = string_of(env, argv[0], "reservedName", vsf_config.reserved, sizeof vsf_config.reserved)) < 0 ||
      (openers = strings_of(env, argv[0], "openers", vsf_config.openers[0], sizeof vsf_config.openers[0], VSF_OPENERS_MAX)) < 0 ||
      // projectFiles: the names to look for, in precedence order (none: the scope is off).
      (names = strings_of(env, argv[0], "projectFiles", vsf_config.project_names[0], sizeof vsf_config.project_names[0], VSF_PROJECT_NAMES_MAX)) < 0 ||
      trust_dirs_of(env, argv[0]) < 0 ||
      (mount_point = string_of(env, argv[0], "mountPoint", vsf_config.mount_point, sizeof vsf_config.mount_point)) < 0) return NULL;
  vsf_config.reserved_len = (size_t) reserved;
  vsf_config.mount_point_len = (size_t) mount_point;
  vsf_config.openers_count = (uint32_t) openers;
  vsf_config.project_count = (uint32_t) names;
  // Environment blocks can be megabytes and come and go with callers: keep them in mappings of their own,
  // returned at free (glibc would otherwise raise its threshold and keep them in the worker threads' arenas).
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  int r = vsf_cache_init(vsf_config.cache_max);
  vsf_config.root_daemon = geteuid() == 0;
  vsf_config.mount_owner = (uint32_t) geteuid();
  if (r == 0 && (vsf_config.act_as_caller || vsf_config.root_daemon)) r = vsf_creds_init();
  if (r < 0) { napi_throw_error(env, "ENOMEM", "varsymfs_native: cannot set up the caller table"); return NULL; }
  return NULL;
}

static void set_u32 (napi_env env, napi_value obj, const char *name, uint32_t value) {
  napi_value v;
  napi_create_uint32(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

// One object of named numbers (a table below): what TS reads of varsymfs.h.
typedef struct { const char *name; uint32_t value; } named_t;
static napi_value object_of (napi_env env, const named_t *fields, size_t n) {
  napi_value o;
  napi_create_object(env, &o);
  for (size_t i = 0; i < n; i++) set_u32(env, o, fields[i].name, fields[i].value);
  return o;
}
#define OBJECT(env, table) object_of(env, table, sizeof table / sizeof table[0])

// The slot in a request's locals (vsf_slot_t).
static const named_t slot_fields[] = {
  { "offset", VSF_SLOT_OFFSET }, { "status", offsetof(vsf_slot_t, status) }, { "source", offsetof(vsf_slot_t, source) },
  { "execCheck", offsetof(vsf_slot_t, exec_check) }, { "generation", offsetof(vsf_slot_t, generation) },
  { "targetLen", offsetof(vsf_slot_t, target_len) }, { "projectStatus", offsetof(vsf_slot_t, project_status) },
  { "projectState", offsetof(vsf_slot_t, project_state) }, { "stat", offsetof(vsf_slot_t, stat) }, { "statInts", VSF_STAT_INTS },
  { "target", offsetof(vsf_slot_t, target) }, { "bytes", sizeof(vsf_slot_t) }, { "room", VSF_SLOT_BYTES },
};
// The caller context at the start of a request's locals (vsf_caller_t): field offsets and its size.
static const named_t caller_fields[] = {
  { "pid", offsetof(vsf_caller_t, pid) }, { "uid", offsetof(vsf_caller_t, uid) }, { "gid", offsetof(vsf_caller_t, gid) },
  { "umask", offsetof(vsf_caller_t, umask) }, { "bytes", sizeof(vsf_caller_t) },
};
// fuse-native's stat encoding (vsf_stat_index): each field's index, and the number of u32s.
static const named_t stat_fields[] = {
  { "mode", VSF_STAT_MODE }, { "uid", VSF_STAT_UID }, { "gid", VSF_STAT_GID }, { "size", VSF_STAT_SIZE }, { "dev", VSF_STAT_DEV },
  { "nlink", VSF_STAT_NLINK }, { "ino", VSF_STAT_INO }, { "rdev", VSF_STAT_RDEV }, { "blksize", VSF_STAT_BLKSIZE },
  { "blocks", VSF_STAT_BLOCKS }, { "atime", VSF_STAT_ATIME }, { "mtime", VSF_STAT_MTIME }, { "ctime", VSF_STAT_CTIME },
  { "ints", VSF_STAT_INTS },
};
static const named_t status_codes[] = { { "none", VSF_NONE }, { "resolve", VSF_RESOLVE } };
static const named_t source_codes[] = {
  { "cached", VSF_ENV_CACHED }, { "fresh", VSF_ENV_FRESH }, { "exec", VSF_ENV_EXEC }, { "unreadable", VSF_ENV_UNREADABLE },
  { "secure", VSF_ENV_SECURE }, { "linkOwner", VSF_ENV_LINK_OWNER },
};
static const named_t owner_codes[] = {
  { "follower", VSF_LINK_FOLLOWER }, { "root", VSF_LINK_ROOT }, { "mountOwner", VSF_LINK_MOUNT_OWNER }, { "other", VSF_LINK_OTHER },
};
static const named_t scope_codes[] = { { "caller", VSF_SCOPE_CALLER }, { "project", VSF_SCOPE_PROJECT }, { "other", VSF_SCOPE_OTHER } };
static const named_t exec_codes[] = { { "checked", VSF_EXEC_CHECKED }, { "denied", VSF_EXEC_DENIED }, { "refused", VSF_EXEC_REFUSED } };
static const named_t project_codes[] = {
  { "off", VSF_PROJECT_OFF }, { "walked", VSF_PROJECT_WALKED }, { "noCwd", VSF_PROJECT_NO_CWD }, { "timedOut", VSF_PROJECT_TIMED_OUT },
  { "failed", VSF_PROJECT_FAILED }, { "partial", VSF_PROJECT_PARTIAL }, { "empty", VSF_PROJECT_EMPTY },
  { "fileMax", VSF_PROJECT_FILE_MAX }, { "namesMax", VSF_PROJECT_NAMES_MAX },
  { "trustDirsMax", VSF_TRUST_DIRS_MAX },
};
static const named_t record_fields[] = {
  { "depth", offsetof(vsf_project_record_t, depth) }, { "name", offsetof(vsf_project_record_t, name) },
  { "status", offsetof(vsf_project_record_t, status) }, { "owner", offsetof(vsf_project_record_t, owner) },
  { "dirLen", offsetof(vsf_project_record_t, dir_len) }, { "bytes", sizeof(vsf_project_record_t) },
};
static const named_t file_codes[] = {
  { "read", VSF_FILE_READ }, { "unreadable", VSF_FILE_UNREADABLE }, { "tooLarge", VSF_FILE_TOO_LARGE },
  { "notAFile", VSF_FILE_NOT_REGULAR }, { "untrusted", VSF_FILE_UNTRUSTED }, { "writable", VSF_FILE_WRITABLE },
};

// The slot layout, the caller context, the stat indices and the codes of varsymfs.h, for src/native.ts.
static napi_value layout (napi_env env) {
  napi_value o;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "slot", OBJECT(env, slot_fields));
  napi_set_named_property(env, o, "caller", OBJECT(env, caller_fields));
  napi_set_named_property(env, o, "stat", OBJECT(env, stat_fields));
  napi_set_named_property(env, o, "status", OBJECT(env, status_codes));
  napi_set_named_property(env, o, "source", OBJECT(env, source_codes));
  napi_set_named_property(env, o, "linkOwner", OBJECT(env, owner_codes));
  napi_set_named_property(env, o, "execCheck", OBJECT(env, exec_codes));
  napi_value project = OBJECT(env, project_codes);
  napi_set_named_property(env, project, "record", OBJECT(env, record_fields));
  napi_set_named_property(env, project, "file", OBJECT(env, file_codes));
  napi_set_named_property(env, o, "project", project);
  napi_set_named_property(env, o, "scope", OBJECT(env, scope_codes));
  set_u32(env, o, "targetMax", VSF_TARGET_MAX - 1);
  static const char *op_names[VSF_OP_COUNT] = VSF_OP_NAMES;
  napi_value names, v;
  napi_create_array_with_length(env, VSF_OP_COUNT, &names);
  for (uint32_t i = 0; i < VSF_OP_COUNT; i++) {
    napi_create_string_utf8(env, op_names[i], NAPI_AUTO_LENGTH, &v);
    napi_set_element(env, names, i, v);
  }
  napi_set_named_property(env, o, "ops", names);
  return o;
}

// A copy of a block the hook left in the request's slot (empty if none): the environment or the project files.
static napi_value slot_block (napi_env env, napi_callback_info info, int project) {
  size_t argc = 1;
  napi_value argv[1], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *data;
  size_t len;
  void *copy;
  CHECK(napi_get_buffer_info(env, argv[0], (void **) &data, &len));
  if (len < VSF_SLOT_OFFSET + sizeof(vsf_slot_t)) { napi_throw_error(env, "EINVAL", "not a request's locals"); return NULL; }
  vsf_slot_t *slot = (vsf_slot_t *) (data + VSF_SLOT_OFFSET);
  uint64_t ptr = project ? slot->project_ptr : slot->env_ptr;
  uint32_t size = project ? slot->project_len : slot->env_len;
  if (ptr == 0) CHECK(napi_create_buffer(env, 0, &copy, &out));
  else CHECK(napi_create_buffer_copy(env, size, (void *) (uintptr_t) ptr, &copy, &out));
  return out;
}

// slotEnv(locals), slotProject(locals): copies of the environment and project blocks in the request's slot.
static napi_value slot_env (napi_env env, napi_callback_info info) { return slot_block(env, info, 0); }
static napi_value slot_project (napi_env env, napi_callback_info info) { return slot_block(env, info, 1); }

// slotRelease(locals): frees the environment block in the request's slot once JS is done with it (a
// thread's locals can idle on libfuse's free list for long, and one block may be megabytes), and gives
// back the caller's share (shares.c) that a resolution passed to JS holds until then. Once: the slot is
// then VSF_NONE.
static napi_value slot_release (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char *data;
  size_t len;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_buffer_info(env, argv[0], (void **) &data, &len));
  if (len < VSF_SLOT_OFFSET + sizeof(vsf_slot_t)) { napi_throw_error(env, "EINVAL", "not a request's locals"); return NULL; }
  vsf_resolve_reset((vsf_slot_t *) (data + VSF_SLOT_OFFSET));
  return NULL;
}

// An expansion JS answers with: a Buffer, or the length alone of one too long to be a path (JS never
// builds those; the memo keeps only their length).
static int expansion_arg (napi_env env, napi_value v, char **exp, size_t *len) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t != napi_number) return napi_get_buffer_info(env, v, (void **) exp, len) == napi_ok;
  double n;
  if (napi_get_value_double(env, v, &n) != napi_ok || !(n >= VSF_TARGET_MAX)) return 0;
  static char none[1];
  *exp = none;
  *len = n > (double) UINT32_MAX ? UINT32_MAX : (size_t) n;
  return 1;
}

// answer(locals, expansion, names, scopes, defaultsGeneration, keep): JS's whole answer to the question the
// hook left in the request's slot (resolve.c keys and keeps it, and shapes the reply in the slot). Returns
// the reply's result: -errno, 0 (getattr: the slot's stat) or the length of the slot's target (readlink).
static napi_value answer (napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *data, *names, *exp;
  size_t len, names_len, exp_len;
  vsf_answer_t a;
  bool keep;
  CHECK(napi_get_buffer_info(env, argv[0], (void **) &data, &len));
  if (!expansion_arg(env, argv[1], &exp, &exp_len)) { napi_throw_type_error(env, "EINVAL", "expansion: a Buffer, or the length of one over PATH_MAX"); return NULL; }
  CHECK(napi_get_buffer_info(env, argv[2], (void **) &names, &names_len));
  CHECK(napi_get_value_uint32(env, argv[3], &a.scopes));
  CHECK(napi_get_value_uint32(env, argv[4], &a.defaults_generation));
  CHECK(napi_get_value_bool(env, argv[5], &keep));
  if (len < VSF_SLOT_OFFSET + sizeof(vsf_slot_t)) { napi_throw_error(env, "EINVAL", "not a request's locals"); return NULL; }
  a.exp = exp; a.exp_len = exp_len; a.names = names; a.names_len = names_len; a.keep = keep;
  CHECK(napi_create_int32(env, vsf_resolve_answer((vsf_slot_t *) (data + VSF_SLOT_OFFSET), &a), &out));
  return out;
}

static napi_value defaults_changed (napi_env env, napi_callback_info info) {
  napi_value v;
  CHECK(napi_create_uint32(env, vsf_defaults_changed(), &v));
  return v;
}

static napi_value defaults_generation (napi_env env, napi_callback_info info) {
  napi_value v;
  CHECK(napi_create_uint32(env, vsf_defaults_generation(), &v));
  return v;
}

// counters(): { ops: [count per fuse-native op number], resolutions, memoHits, ..., cacheEntries }
static napi_value counters (napi_env env, napi_callback_info info) {
  static const char *names[VSF_C_COUNT] = { "resolutions", "memoHits", "envLookups", "envCached", "envExec", "envUnreadable", "envSecure", "execRefused", "passedToJs", "projectWalks", "projectAnswered", "projectTimeouts", "envLinkOwner", "shareRefused" };
  napi_value o, ops, v;
  CHECK(napi_create_object(env, &o));
  CHECK(napi_create_array_with_length(env, VSF_OP_COUNT, &ops));
  for (uint32_t i = 0; i < VSF_OP_COUNT; i++) {
    napi_create_double(env, (double) atomic_load(&vsf_op_counts[i]), &v);
    napi_set_element(env, ops, i, v);
  }
  napi_set_named_property(env, o, "ops", ops);
  for (int i = 0; i < VSF_C_COUNT; i++) {
    napi_create_double(env, (double) atomic_load(&vsf_counts[i]), &v);
    napi_set_named_property(env, o, names[i], v);
  }
  set_u32(env, o, "cacheEntries", vsf_cache_entries());
  napi_create_double(env, (double) vsf_inodes(), &v);
  napi_set_named_property(env, o, "inodes", v);
  return o;
}

// ---- probe(tid, linkPath: Buffer | null, cb(source, execCheck, env | null, target | null, linkResult, projectStatus, project, linkOwnerRule, linkUid, followerUid))

typedef struct {
  uint32_t tid;
  char *link;
  char target[VSF_TARGET_MAX];
  ssize_t link_result;
  uint32_t link_uid;       // the link's owner (lstat)
  uint32_t follower_uid;   // the caller's uid (the owner of its /proc directory)
  vsf_env_t p;
  int project_status;
  char *project;
  size_t project_len;
  napi_ref callback;
  napi_async_work work;
} probe_job_t;

static void probe_execute (napi_env env, void *arg) {
  probe_job_t *j = arg;
  if (j->link != NULL) {
    int pfd; const char *name;
    ssize_t r = vsf_open_parent(j->link, &pfd, &name);
    struct stat lst;
    if (r == 0) {
      r = fstatat(pfd, name, &lst, AT_SYMLINK_NOFOLLOW) == 0 ? readlinkat(pfd, name, j->target, sizeof j->target - 1) : -1;
      if (r < 0) r = -errno;
      vsf_close_parent(pfd);
    }
    j->link_result = r;
    if (r < 0) return;
    j->target[r] = 0;
    j->link_uid = (uint32_t) lst.st_uid;
  }
  // The caller's ids: the owner of its /proc directory (its project files are read as that process).
  char proc[64];
  struct stat st;
  snprintf(proc, sizeof proc, "/proc/%u", j->tid);
  vsf_request_t r = { .pid = j->tid };
  if (stat(proc, &st) == 0) { r.uid = st.st_uid; r.gid = st.st_gid; }
  j->follower_uid = r.uid;
  vsf_env_open(&j->p, j->tid, r.uid, 0, j->link != NULL ? j->link_uid : r.uid, 0);
  vsf_env_read(&j->p);
  vsf_env_close(&j->p);
  vsf_project_t *proj = vsf_project_new(&r);
  if (j->p.source == VSF_ENV_SECURE) vsf_project_skip(proj);
  uint32_t state;
  j->project_status = vsf_project_contents(&proj, &j->project, &j->project_len, &state);
  vsf_project_free(proj);
}

static void probe_complete (napi_env env, napi_status status, void *arg) {
  probe_job_t *j = arg;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, global, argv[10];
  void *copy;
  napi_get_reference_value(env, j->callback, &cb);
  napi_get_global(env, &global);
  napi_create_int32(env, j->p.source, &argv[0]);
  napi_create_int32(env, j->p.exec_check, &argv[1]);
  if (j->p.env != NULL) napi_create_buffer_copy(env, j->p.env_len, j->p.env, &copy, &argv[2]);
  else napi_get_null(env, &argv[2]);
  if (j->link != NULL && j->link_result >= 0) napi_create_buffer_copy(env, (size_t) j->link_result, j->target, &copy, &argv[3]);
  else napi_get_null(env, &argv[3]);
  napi_create_int64(env, status == napi_ok ? (int64_t) j->link_result : -EIO, &argv[4]);
  napi_create_int32(env, j->project_status, &argv[5]);
  if (j->project != NULL) napi_create_buffer_copy(env, j->project_len, j->project, &copy, &argv[6]);
  else napi_create_buffer(env, 0, &copy, &argv[6]);
  napi_create_int32(env, j->p.link_owner, &argv[7]);
  napi_create_uint32(env, j->link_uid, &argv[8]);
  napi_create_uint32(env, j->follower_uid, &argv[9]);
  napi_call_function(env, global, cb, 10, argv, NULL);
  napi_close_handle_scope(env, scope);
  napi_delete_reference(env, j->callback);
  napi_delete_async_work(env, j->work);
  free(j->p.env);
  free(j->project);
  free(j->link);
  free(j);
}

static napi_value probe (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], name;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  probe_job_t *j = calloc(1, sizeof *j);
  if (j == NULL) { napi_throw_error(env, "ENOMEM", "out of memory"); return NULL; }
  napi_get_value_uint32(env, argv[0], &j->tid);
  bool is_buffer = false;
  napi_is_buffer(env, argv[1], &is_buffer);
  if (is_buffer) {
    char *data; size_t len;
    napi_get_buffer_info(env, argv[1], (void **) &data, &len);
    j->link = calloc(1, len + 1);
    if (j->link == NULL || memchr(data, 0, len) != NULL) { free(j->link); free(j); napi_throw_error(env, "EINVAL", "bad link path"); return NULL; }
    memcpy(j->link, data, len);
  }
  napi_create_reference(env, argv[2], 1, &j->callback);
  napi_create_string_utf8(env, "varsymfs_probe", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, probe_execute, probe_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return NULL;
}

NAPI_MODULE_INIT () {
  static const struct { const char *name; napi_callback fn; } fns[] = {
    { "hook", hook }, { "lowlevel", lowlevel }, { "configure", configure }, { "slotEnv", slot_env }, { "slotProject", slot_project }, { "slotRelease", slot_release }, { "answer", answer },
    { "defaultsChanged", defaults_changed }, { "defaultsGeneration", defaults_generation }, { "counters", counters },
    { "probe", probe },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn);
    napi_set_named_property(env, exports, fns[i].name, fn);
  }
  napi_set_named_property(env, exports, "layout", layout(env));
  execenv_register(env, exports);  // execenvConfigure, execenvStats (the exec-env helper, issue 13)
  return exports;
}
