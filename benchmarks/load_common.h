/* Shared pieces of the benchmark load drivers (lbc_load.c, grpc_load.cc).
 *
 * Both drivers run the same schedule:
 *   1. open the channel, wait until it is connected;
 *   2. warm-up: every thread loops calls (--warmup-calls per thread, or for
 *      --warmup-ms), not recorded;
 *   3. with --handshake: print "WARM" and wait for a line on stdin (the runner
 *      reads the servers' counters in between);
 *   4. measured window: N threads each loop one blocking call at a time, for
 *      --seconds, or --calls in total (split evenly), recording each call's
 *      latency with clock_gettime(CLOCK_MONOTONIC);
 *   5. print one JSON line: calls, errors, wall seconds, calls/s, p50/p99 in
 *      microseconds, and getrusage(RUSAGE_SELF) user+sys seconds over the window.
 */
#ifndef BENCH_LOAD_COMMON_H
#define BENCH_LOAD_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

typedef struct bench_args {
  const char *target;
  int threads;
  double seconds;       /* duration mode when calls == 0 */
  long calls;           /* calls mode (total) when > 0 */
  long warmup_calls;    /* per thread; used when > 0 */
  int warmup_ms;        /* used when warmup_calls == 0 */
  int payload;          /* bytes in Msg.payload */
  int handshake;
  long deadline_ms;
  int expect_endpoints; /* lbchannel only: wait until this many are READY */
  int async_mode;       /* --async: N outstanding calls from one thread (both drivers) */
  int window;           /* stream drivers: messages in flight (1 = ping-pong) */
} bench_args;

static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline double bench_cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static inline void bench_usage(const char *prog) {
  fprintf(stderr,
          "usage: %s --target T [--threads N] [--seconds S | --calls K]\n"
          "          [--warmup-ms MS | --warmup-calls K] [--payload BYTES] [--handshake]\n"
          "          [--deadline-ms MS] [--expect-endpoints N] [--async] [--window W]\n",
          prog);
  exit(2);
}

static inline void bench_parse_args(int argc, char **argv, bench_args *a) {
  a->target = NULL;
  a->threads = 1;
  a->seconds = 3.0;
  a->calls = 0;
  a->warmup_calls = 0;
  a->warmup_ms = 500;
  a->payload = 32;
  a->handshake = 0;
  a->deadline_ms = 10000;
  a->expect_endpoints = 0;
  a->async_mode = 0;
  a->window = 1;
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(k, "--handshake")) { a->handshake = 1; continue; }
    if (!strcmp(k, "--async")) { a->async_mode = 1; continue; }
    if (!v) bench_usage(argv[0]);
    i++;
    if (!strcmp(k, "--target")) a->target = v;
    else if (!strcmp(k, "--threads")) a->threads = atoi(v);
    else if (!strcmp(k, "--seconds")) a->seconds = atof(v);
    else if (!strcmp(k, "--calls")) a->calls = atol(v);
    else if (!strcmp(k, "--warmup-calls")) a->warmup_calls = atol(v);
    else if (!strcmp(k, "--warmup-ms")) a->warmup_ms = atoi(v);
    else if (!strcmp(k, "--payload")) a->payload = atoi(v);
    else if (!strcmp(k, "--deadline-ms")) a->deadline_ms = atol(v);
    else if (!strcmp(k, "--expect-endpoints")) a->expect_endpoints = atoi(v);
    else if (!strcmp(k, "--window")) a->window = atoi(v);
    else bench_usage(argv[0]);
  }
  if (!a->target || a->threads < 1 || a->window < 1 || a->payload < 0 ||
      a->payload > (16 << 20))
    bench_usage(argv[0]);
}

/* The unary drivers use a fixed buffer: payload <= 127 (one-byte length). */
static inline void bench_require_small_payload(const bench_args *a, const char *prog) {
  if (a->payload > 127) {
    fprintf(stderr, "%s: --payload must be <= 127 for unary calls\n", prog);
    exit(2);
  }
}

/* A malloc'd serialized bench.Msg with `payload` bytes (any size, varint length). */
static inline uint8_t *bench_alloc_msg(int payload, size_t *len) {
  uint8_t *buf = (uint8_t *)malloc((size_t)payload + 8);
  if (!buf) { fprintf(stderr, "out of memory\n"); exit(1); }
  size_t k = 0;
  buf[k++] = 0x0a;
  for (uint32_t n = (uint32_t)payload;; n >>= 7) {
    if (n < 0x80) { buf[k++] = (uint8_t)n; break; }
    buf[k++] = (uint8_t)(n | 0x80);
  }
  for (int i = 0; i < payload; i++) buf[k + (size_t)i] = (uint8_t)('a' + i % 26);
  *len = k + (size_t)payload;
  return buf;
}

/* The serialized bench.Msg: field 1 (bytes), length, payload. payload <= 127. */
static inline size_t bench_make_msg(uint8_t *buf, int payload) {
  buf[0] = 0x0a;
  buf[1] = (uint8_t)payload;
  for (int i = 0; i < payload; i++) buf[2 + i] = (uint8_t)('a' + i % 26);
  return (size_t)payload + 2;
}

/* Latency samples of one thread (nanoseconds). */
typedef struct bench_samples {
  uint64_t *v;
  size_t n, cap;
  long errors;
} bench_samples;

static inline void bench_push(bench_samples *s, uint64_t ns) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 65536;
    s->v = (uint64_t *)realloc(s->v, s->cap * sizeof(uint64_t));
    if (!s->v) { fprintf(stderr, "out of memory\n"); exit(1); }
  }
  s->v[s->n++] = ns;
}

static int bench_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Merge, sort and print the JSON result line. */
static inline void bench_report(const char *client, const char *version, const bench_args *a,
                                bench_samples *per_thread, double wall_s, double cpu_s,
                                const char *extra_json) {
  size_t total = 0;
  long errors = 0;
  for (int t = 0; t < a->threads; t++) { total += per_thread[t].n; errors += per_thread[t].errors; }
  uint64_t *all = (uint64_t *)malloc((total ? total : 1) * sizeof(uint64_t));
  size_t k = 0;
  for (int t = 0; t < a->threads; t++) {
    memcpy(all + k, per_thread[t].v, per_thread[t].n * sizeof(uint64_t));
    k += per_thread[t].n;
  }
  qsort(all, total, sizeof(uint64_t), bench_cmp_u64);
  double p50 = total ? all[total / 2] / 1e3 : 0, p99 = total ? all[(total * 99) / 100] / 1e3 : 0;
  double mean = 0;
  for (size_t i = 0; i < total; i++) mean += all[i];
  mean = total ? mean / total / 1e3 : 0;
  printf("{\"client\": \"%s\", \"version\": \"%s\", \"target\": \"%s\", \"threads\": %d, "
         "\"calls\": %zu, \"errors\": %ld, \"wall_s\": %.6f, \"cps\": %.2f, "
         "\"p50_us\": %.2f, \"p99_us\": %.2f, \"mean_us\": %.2f, \"cpu_s\": %.6f, "
         "\"cpu_us_per_call\": %.4f%s%s}\n",
         client, version, a->target, a->threads, total, errors, wall_s,
         wall_s > 0 ? total / wall_s : 0, p50, p99, mean, cpu_s,
         total ? cpu_s * 1e6 / total : 0, extra_json ? ", " : "", extra_json ? extra_json : "");
  fflush(stdout);
  free(all);
}

static inline void bench_handshake(void) {
  printf("WARM\n");
  fflush(stdout);
  char line[64];
  if (!fgets(line, sizeof line, stdin)) { fprintf(stderr, "handshake: stdin closed\n"); exit(1); }
}

#endif
