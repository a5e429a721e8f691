// The exec-env client's functions for JS (execenvConfigure, execenvStats), added to varsymfs_native's
// exports by its module init.
#ifndef VARSYMFS_EXECENV_NAPI_H
#define VARSYMFS_EXECENV_NAPI_H
#include <node_api.h>

void execenv_register (napi_env env, napi_value exports);

#endif
