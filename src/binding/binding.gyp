{
  "targets": [{
    "target_name": "varsymfs_native",
    "sources": ["addon.c", "ops.c", "resolve.c", "links.c", "paths.c", "callers.c", "project.c", "envp.c", "procfs.c", "memo.c", "creds.c", "shares.c", "execenv_client.c", "execenv_napi.c"],
    "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"]
  }]
}
