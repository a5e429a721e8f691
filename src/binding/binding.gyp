{
  "targets": [{
    "target_name": "varsymfs_native",
    "sources": ["varsymfs_native.c"],
    "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
  }]
}
