/* lbc_load — load driver for lbchannel through its C API (see load_common.h).
 *
 * N outstanding calls = N pthreads, each looping the blocking lbc_unary() on one
 * shared channel (lb_policy=round_robin). Payload: serialized bench.Msg.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "lbchannel.h"
#include "load_common.h"

static bench_args A;
static lbc_channel *CH;
static uint8_t REQ[160];
static size_t REQ_LEN;
static atomic_int WARM_STOP, STOP;
static pthread_barrier_t B1, B2;
static bench_samples *SAMPLES;
static const char *METHOD = "/bench.Echo/Unary";

static int one_call(void) {
  lbc_response *resp = NULL;
  int rc = lbc_unary(CH, METHOD, REQ, REQ_LEN, NULL, A.deadline_ms, &resp);
  int ok = rc == LBC_OK && lbc_response_status(resp) == LBC_STATUS_OK;
  if (ok) {
    size_t len = 0;
    lbc_response_data(resp, &len);
    ok = len == REQ_LEN;
  } else {
    static atomic_int printed;
    if (atomic_fetch_add(&printed, 1) < 5)
      fprintf(stderr, "lbc_load: call failed: rc=%d (%s) status=%s %s\n", rc, lbc_strerror(rc),
              resp ? lbc_status_name(lbc_response_status(resp)) : "-",
              resp ? lbc_response_message(resp) : lbc_last_errmsg());
  }
  lbc_response_free(resp);
  return ok;
}

static void *worker(void *arg) {
  bench_samples *s = &SAMPLES[(intptr_t)arg];
  if (A.warmup_calls > 0) {
    for (long i = 0; i < A.warmup_calls; i++) one_call();
  } else {
    while (!atomic_load_explicit(&WARM_STOP, memory_order_relaxed)) one_call();
  }
  pthread_barrier_wait(&B1);
  pthread_barrier_wait(&B2);
  if (A.calls > 0) {
    long mine = A.calls / A.threads + ((intptr_t)arg < A.calls % A.threads);
    for (long i = 0; i < mine; i++) {
      uint64_t t0 = bench_now_ns();
      if (one_call()) bench_push(s, bench_now_ns() - t0); else s->errors++;
    }
  } else {
    while (!atomic_load_explicit(&STOP, memory_order_relaxed)) {
      uint64_t t0 = bench_now_ns();
      if (one_call()) bench_push(s, bench_now_ns() - t0); else s->errors++;
    }
  }
  return NULL;
}

static int count_ready(void) {
  char *json = NULL;
  if (lbc_channel_stats_json(CH, &json) != LBC_OK) return -1;
  int n = 0;
  for (const char *p = json; (p = strstr(p, "\"READY\"")); p++) n++;
  lbc_free(json);
  return n;
}

int main(int argc, char **argv) {
  bench_parse_args(argc, argv, &A);
  REQ_LEN = bench_make_msg(REQ, A.payload);

  lbc_options *opts = NULL;
  if (lbc_options_new(&opts) != LBC_OK || lbc_options_set(opts, "lb_policy", "round_robin") != LBC_OK) {
    fprintf(stderr, "lbc_load: options: %s\n", lbc_last_errmsg());
    return 1;
  }
  if (lbc_channel_open(A.target, opts, &CH) != LBC_OK) {
    fprintf(stderr, "lbc_load: open %s: %s\n", A.target, lbc_last_errmsg());
    return 1;
  }
  lbc_options_free(opts);
  if (A.expect_endpoints > 0) {
    uint64_t until = bench_now_ns() + 10000000000ull;
    while (count_ready() < A.expect_endpoints) {
      if (bench_now_ns() > until) {
        fprintf(stderr, "lbc_load: only %d of %d endpoints READY after 10 s\n", count_ready(),
                A.expect_endpoints);
        return 1;
      }
      usleep(2000);
    }
  }

  SAMPLES = calloc((size_t)A.threads, sizeof(bench_samples));
  pthread_barrier_init(&B1, NULL, (unsigned)A.threads + 1);
  pthread_barrier_init(&B2, NULL, (unsigned)A.threads + 1);
  pthread_t *th = calloc((size_t)A.threads, sizeof(pthread_t));
  for (intptr_t t = 0; t < A.threads; t++) {
    if (pthread_create(&th[t], NULL, worker, (void *)t) != 0) {
      fprintf(stderr, "lbc_load: pthread_create failed\n");
      return 1;
    }
  }
  if (A.warmup_calls == 0) {
    usleep((useconds_t)A.warmup_ms * 1000);
    atomic_store(&WARM_STOP, 1);
  }
  pthread_barrier_wait(&B1);
  if (A.handshake) bench_handshake();
  double cpu0 = bench_cpu_seconds();
  uint64_t t0 = bench_now_ns();
  pthread_barrier_wait(&B2);
  if (A.calls == 0) {
    uint64_t end = t0 + (uint64_t)(A.seconds * 1e9);
    for (uint64_t now; (now = bench_now_ns()) < end;) {
      uint64_t left = end - now;
      usleep(left > 100000000ull ? 100000 : (useconds_t)(left / 1000 + 1));
    }
    atomic_store(&STOP, 1);
  }
  for (int t = 0; t < A.threads; t++) pthread_join(th[t], NULL);
  uint64_t t1 = bench_now_ns();
  double cpu1 = bench_cpu_seconds();
  bench_report("lbchannel-c", lbc_version(), &A, SAMPLES, (t1 - t0) / 1e9, cpu1 - cpu0, NULL);
  lbc_channel_close(CH);
  return 0;
}
