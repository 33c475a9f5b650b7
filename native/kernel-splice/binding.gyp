{
  "targets": [
    {
      "target_name": "kernel_splice",
      "sources": ["src/kernel_splice.c", "src/verdict_program.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
