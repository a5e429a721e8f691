{
  "targets": [{
    "target_name": "varsymfs_native", "sources": ["addon.c", "ops.c", "lowlevel.c", "resolve.c", "links.c", "paths.c", "callers.c", "project/scope.c", "project/walk.c", "project/contents.c", "project/trust.c", "project/reach.c", "project/mounts.c", "project/threads.c", "project/fast.c", "project/watch.c", "project/dirs.c", "project/states.c", "envp.c", "procfs.c", "memo.c", "creds.c", "shares.c", "execenv_client.c", "execenv_napi.c"],
    "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
    "include_dirs": ["<!(node -e \"require('fuse-shared-library/include')\")"],
    "libraries": ["<!(node -e \"require('fuse-shared-library/lib')\")"]
  }]
}
