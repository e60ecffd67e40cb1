// tls_common.h — TLS for the benchmark programs, switched on by the environment so
// that every driver keeps its command line:
//   BENCH_TLS_CERT, BENCH_TLS_KEY   echo_server serves TLS with this certificate
//   BENCH_TLS_CA                    clients trust this CA file and use TLS
//   BENCH_TLS_NAME                  the name the server certificate carries (SNI,
//                                   verification; gRPC's ssl_target_name_override)
#ifndef BENCH_TLS_COMMON_H
#define BENCH_TLS_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file, NUL-terminated and malloc'ed; exits on failure. */
static inline char *bench_read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "bench: cannot open %s\n", path);
    exit(2);
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = (char *)malloc(cap);
  size_t r;
  while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) n += r;
  fclose(f);
  buf[n] = '\0';
  return buf;
}

#endif
