/*
 * lbc_scale.c — the many-endpoint measurements of `make bench` (driven by
 * benchmarks/scale.py), through the public C API only.
 *
 *   lbc_scale memory TARGET N PAYLOAD
 *     Opens a round_robin channel over TARGET's N endpoints, waits until all are
 *     READY, sends one 32-byte call per endpoint (every connection has carried a
 *     call), then one PAYLOAD-byte call per endpoint (round_robin: each endpoint
 *     gets one; checked by the peers), then idles 1 s. Prints one JSON line with the
 *     heap in use (mallinfo2: uordblks + hblkhd) and VmRSS before the channel, after
 *     the small calls, after the large calls, and after the large calls followed by
 *     malloc_trim(0).
 *
 *   lbc_scale stats TARGET N SECONDS
 *     The I/O-thread stall of lbc_channel_stats_json(): with the channel idle, 200
 *     stats calls back to back; the on-CPU time of the channel's own threads (the
 *     tasks that appeared with lbc_channel_open, /proc/self/task/TID/schedstat)
 *     divided by the calls is what each call costs the I/O thread, during which it
 *     serves nothing else; the caller-side time too. Then one thread loops blocking
 *     32-byte calls for SECONDS without and SECONDS with a second thread calling
 *     lbc_channel_stats_json() back to back: latency percentiles of both phases
 *     (noisy on a shared machine: the formatting thread competes for the CPUs).
 */
#define _GNU_SOURCE
#include <lbchannel.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kib = atol(line + 6);
  if (f) fclose(f);
  return kib;
}

static long heap_bytes(void) {
  struct mallinfo2 mi = mallinfo2();
  return (long)(mi.uordblks + mi.hblkhd);
}

static int ready_endpoints(lbc_channel *ch) {
  char *json = NULL;
  if (lbc_channel_stats_json(ch, &json) != LBC_OK) return -1;
  int n = 0;
  for (const char *p = json; (p = strstr(p, "\"READY\"")); p++) n++;
  lbc_free(json);
  return n;
}

static lbc_channel *open_channel(const char *target, int n) {
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL;
  if (lbc_options_new(&opts) != LBC_OK || lbc_options_set(opts, "lb_policy", "round_robin") != LBC_OK ||
      lbc_channel_open(target, opts, &ch) != LBC_OK) {
    fprintf(stderr, "lbc_scale: open: %s\n", lbc_last_errmsg());
    exit(1);
  }
  lbc_options_free(opts);
  uint64_t until = now_ns() + 120ull * 1000000000ull;
  while (ready_endpoints(ch) < n) {
    if (now_ns() > until) {
      fprintf(stderr, "lbc_scale: only %d of %d endpoints READY\n", ready_endpoints(ch), n);
      exit(1);
    }
    usleep(10000);
  }
  return ch;
}

/* One blocking call echoing len bytes; the peer's address is copied to peer. */
static int call(lbc_channel *ch, const uint8_t *req, size_t len, char *peer, size_t peer_size) {
  lbc_response *resp = NULL;
  int rc = lbc_unary(ch, "/bench.Echo/Unary", req, len, NULL, 30000, &resp);
  size_t got = 0;
  int ok = rc == LBC_OK && lbc_response_status(resp) == LBC_STATUS_OK && lbc_response_data(resp, &got) && got == len;
  if (!ok)
    fprintf(stderr, "lbc_scale: call failed: rc=%d status=%s %s\n", rc,
            resp ? lbc_status_name(lbc_response_status(resp)) : "-", resp ? lbc_response_message(resp) : lbc_last_errmsg());
  if (ok && peer) snprintf(peer, peer_size, "%s", lbc_response_peer(resp));
  lbc_response_free(resp);
  return ok;
}

static int cmp_str(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

static int memory(const char *target, int n, size_t payload) {
  uint8_t small[32];
  memset(small, 'a', sizeof small);
  uint8_t *large = malloc(payload);
  memset(large, 'b', payload);
  char(*peers)[64] = calloc((size_t)n, 64);
  malloc_trim(0);
  long h0 = heap_bytes(), r0 = rss_kib();
  lbc_channel *ch = open_channel(target, n);
  for (int i = 0; i < n; i++)
    if (!call(ch, small, sizeof small, NULL, 0)) return 1;
  usleep(500000);
  malloc_trim(0);
  long h1 = heap_bytes(), r1 = rss_kib();
  for (int i = 0; i < n; i++)
    if (!call(ch, large, payload, peers[i], 64)) return 1;
  qsort(peers, (size_t)n, 64, cmp_str);
  int distinct = n > 0;
  for (int i = 1; i < n; i++) distinct += strcmp(peers[i], peers[i - 1]) != 0;
  usleep(1000000);
  long h2 = heap_bytes(), r2 = rss_kib();
  malloc_trim(0);
  long h3 = heap_bytes(), r3 = rss_kib();
  printf("{\"endpoints\": %d, \"payload\": %zu, \"distinct_peers\": %d, "
         "\"heap\": [%ld, %ld, %ld, %ld], \"rss_kib\": [%ld, %ld, %ld, %ld]}\n",
         n, payload, distinct, h0, h1, h2, h3, r0, r1, r2, r3);
  lbc_channel_close(ch);
  free(large);
  free(peers);
  return distinct == n ? 0 : 1;
}

static lbc_channel *CH;
static atomic_int STOP_POLL;
static atomic_long POLLS, POLL_NS, POLL_MAX_NS;

static void *poller(void *arg) {
  (void)arg;
  while (!atomic_load(&STOP_POLL)) {
    char *json = NULL;
    uint64_t t0 = now_ns();
    if (lbc_channel_stats_json(CH, &json) != LBC_OK) break;
    long dt = (long)(now_ns() - t0);
    lbc_free(json);
    atomic_fetch_add(&POLLS, 1);
    atomic_fetch_add(&POLL_NS, dt);
    if (dt > atomic_load(&POLL_MAX_NS)) atomic_store(&POLL_MAX_NS, dt);
  }
  return NULL;
}

/* Thread ids of this process, up to max; returns the count. */
static int task_ids(long *ids, int max) {
  int n = 0;
  char cmd[64];
  snprintf(cmd, sizeof cmd, "ls /proc/%d/task", (int)getpid());
  FILE *f = popen(cmd, "r");
  while (f && n < max && fscanf(f, "%ld", &ids[n]) == 1) n++;
  if (f) pclose(f);
  return n;
}

/* On-CPU nanoseconds of the given threads (schedstat's first field). */
static long long tasks_cpu_ns(const long *ids, int n) {
  long long sum = 0;
  for (int i = 0; i < n; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat", ids[i]);
    FILE *f = fopen(path, "r");
    long long ns = 0;
    if (f && fscanf(f, "%lld", &ns) == 1) sum += ns;
    if (f) fclose(f);
  }
  return sum;
}

/* Minor page faults of the given threads (/proc/self/task/TID/stat field 10). */
static long long tasks_minflt(const long *ids, int n) {
  long long sum = 0;
  for (int i = 0; i < n; i++) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/self/task/%ld/stat", ids[i]);
    FILE *f = fopen(path, "r");
    if (f && fgets(buf, sizeof buf, f)) {
      const char *p = strrchr(buf, ')'); /* after "pid (comm)": state is field 3 */
      long long v = 0;
      if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %lld", &v) == 1) sum += v;
    }
    if (f) fclose(f);
  }
  return sum;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Latencies of blocking calls for `seconds`; prints "name": {...} */
static int phase(const char *name, double seconds) {
  size_t cap = 1 << 20, k = 0;
  uint64_t *lat = malloc(cap * sizeof *lat);
  uint8_t req[32];
  memset(req, 'a', sizeof req);
  uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
  while (now_ns() < end && k < cap) {
    uint64_t t0 = now_ns();
    if (!call(CH, req, sizeof req, NULL, 0)) return 1;
    lat[k++] = now_ns() - t0;
  }
  qsort(lat, k, sizeof *lat, cmp_u64);
  printf("\"%s\": {\"calls\": %zu, \"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f}", name, k,
         lat[k / 2] / 1e3, lat[k * 99 / 100] / 1e3, lat[k * 999 / 1000] / 1e3, lat[k - 1] / 1e3);
  free(lat);
  return 0;
}

static int stats(const char *target, int n, double seconds) {
  long before[256], after[256], own[256];
  int nb = task_ids(before, 256);
  CH = open_channel(target, n);
  int na = task_ids(after, 256), nown = 0;
  for (int i = 0; i < na; i++) {
    int old = 0;
    for (int j = 0; j < nb; j++) old |= after[i] == before[j];
    if (!old) own[nown++] = after[i];
  }
  uint8_t req[32];
  memset(req, 'a', sizeof req);
  for (int i = 0; i < 2 * n; i++)
    if (!call(CH, req, sizeof req, NULL, 0)) return 1;
  char *json = NULL;
  lbc_channel_stats_json(CH, &json);
  size_t json_len = json ? strlen(json) : 0;
  lbc_free(json);
  usleep(200000);
  const int k = 200;
  long long cpu0 = tasks_cpu_ns(own, nown), flt0 = tasks_minflt(own, nown);
  uint64_t t0 = now_ns();
  for (int i = 0; i < k; i++) {
    if (lbc_channel_stats_json(CH, &json) != LBC_OK) return 1;
    lbc_free(json);
  }
  uint64_t wall = now_ns() - t0;
  long long cpu = tasks_cpu_ns(own, nown) - cpu0, flt = tasks_minflt(own, nown) - flt0;
  printf("{\"endpoints\": %d, \"json_bytes\": %zu, \"channel_threads\": %d, \"io_thread_us_per_stats\": %.1f, "
         "\"io_thread_faults_per_stats\": %.1f, \"caller_us_per_stats\": %.1f, ", n, json_len, nown, cpu / 1e3 / k,
         (double)flt / k, wall / 1e3 / k);
  if (phase("quiet", seconds)) return 1;
  printf(", ");
  pthread_t t;
  pthread_create(&t, NULL, poller, NULL);
  int rc = phase("polled", seconds);
  atomic_store(&STOP_POLL, 1);
  pthread_join(t, NULL);
  if (rc) return 1;
  long polls = atomic_load(&POLLS);
  printf(", \"stats_calls\": %ld, \"stats_mean_us\": %.1f, \"stats_max_us\": %.1f}\n", polls,
         polls ? atomic_load(&POLL_NS) / 1e3 / (double)polls : 0.0, atomic_load(&POLL_MAX_NS) / 1e3);
  lbc_channel_close(CH);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "memory")) return memory(argv[2], atoi(argv[3]), (size_t)atol(argv[4]));
  if (argc == 5 && !strcmp(argv[1], "stats")) return stats(argv[2], atoi(argv[3]), atof(argv[4]));
  fprintf(stderr, "usage: lbc_scale memory TARGET N PAYLOAD | stats TARGET N SECONDS\n");
  return 2;
}
