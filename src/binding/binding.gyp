{
  "targets": [{
    "target_name": "varsymfs_native",
    "sources": ["varsymfs_native.c", "execenv_client.c", "execenv_napi.c"],
    "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
  }]
}
