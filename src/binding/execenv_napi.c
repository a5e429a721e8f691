// JS access to the exec-env client (execenv_client.h): configured once at mount, counters for status.
#include <stdbool.h>
#include <stdlib.h>
#include "execenv_client.h"
#include "execenv_napi.h"

// execenvConfigure(helperPath: string | null, directDisabled: boolean): 1 the helper answers, 0 no helper,
// -errno it could not start or failed its self-probe. Call before mounting: it waits for the helper.
static napi_value configure_js (napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *path = NULL;
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    size_t len = 0;
    napi_get_value_string_utf8(env, argv[0], NULL, 0, &len);
    path = malloc(len + 1);
    if (path != NULL) napi_get_value_string_utf8(env, argv[0], path, len + 1, &len);
  }
  bool off = false;
  if (argc >= 2) napi_get_value_bool(env, argv[1], &off);
  int r = t == napi_string && path == NULL ? -12 /* ENOMEM */ : execenv_configure(path, off);
  free(path);
  napi_value out;
  napi_create_int32(env, r, &out);
  return out;
}

static void put (napi_env env, napi_value obj, const char *name, uint64_t v) {
  napi_value n;
  napi_create_double(env, (double) v, &n);
  napi_set_named_property(env, obj, name, n);
}

// execenvStats(): { asked, answered, notInExec, refused, failed, started }
static napi_value stats_js (napi_env env, napi_callback_info info) {
  (void) info;
  execenv_stats_t s;
  execenv_get_stats(&s);
  napi_value obj;
  napi_create_object(env, &obj);
  put(env, obj, "asked", s.asked);
  put(env, obj, "answered", s.answered);
  put(env, obj, "notInExec", s.not_in_exec);
  put(env, obj, "refused", s.refused);
  put(env, obj, "failed", s.failed);
  put(env, obj, "started", s.started);
  return obj;
}

void execenv_register (napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "execenvConfigure", NAPI_AUTO_LENGTH, configure_js, NULL, &fn);
  napi_set_named_property(env, exports, "execenvConfigure", fn);
  napi_create_function(env, "execenvStats", NAPI_AUTO_LENGTH, stats_js, NULL, &fn);
  napi_set_named_property(env, exports, "execenvStats", fn);
}
