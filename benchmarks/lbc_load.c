/* lbc_load — load driver for lbchannel through its C API (see load_common.h).
 *
 * Blocking mode (default): N outstanding calls = N pthreads, each looping the
 * blocking lbc_unary() on one shared channel (lb_policy=round_robin).
 *
 * --async: N outstanding calls from ONE thread: lbc_unary_async() on one
 * completion queue, lbc_cq_poll() taking up to 64 events per batch, each
 * completion immediately replaced by a new call until the window ends; then the
 * outstanding calls are drained (and counted, like the blocking threads finish
 * their current call). Latency = issue to the batch the completion arrived in.
 * With --threads 1 --calls K (callgrind) exactly K calls, one outstanding.
 *
 * Payload: serialized bench.Msg.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "lbchannel.h"
#include "lbc_common.h"

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

/* ------------------------------------------------------------------ --async */

#define ASYNC_BATCH 64

static lbc_cq *CQ;
static uint64_t *ISSUED_AT; /* per slot (tag = slot + 1) */

static void async_issue(intptr_t slot) {
  ISSUED_AT[slot] = bench_now_ns();
  int rc = lbc_unary_async(CH, METHOD, REQ, REQ_LEN, NULL, A.deadline_ms, CQ, (void *)(slot + 1), NULL);
  if (rc != LBC_OK) {
    fprintf(stderr, "lbc_load: lbc_unary_async: rc=%d (%s) %s\n", rc, lbc_strerror(rc),
            lbc_last_errmsg());
    exit(1);
  }
}

static int async_check(lbc_response *resp) {
  int ok = resp && lbc_response_status(resp) == LBC_STATUS_OK;
  if (ok) {
    size_t len = 0;
    lbc_response_data(resp, &len);
    ok = len == REQ_LEN;
  } else {
    static int printed;
    if (printed++ < 5)
      fprintf(stderr, "lbc_load: async call failed: status=%s %s\n",
              resp ? lbc_status_name(lbc_response_status(resp)) : "-",
              resp ? lbc_response_message(resp) : "no response");
  }
  lbc_response_free(resp);
  return ok;
}

/* One phase: keep A.threads calls outstanding until `total` calls were issued
 * (total > 0) or until `end_ns`, then drain. Records into `s` when not NULL. */
static void async_phase(long total, uint64_t end_ns, bench_samples *s) {
  lbc_event ev[ASYNC_BATCH];
  long issued = 0;
  int outstanding = 0;
  for (intptr_t i = 0; i < A.threads; i++) {
    if (total > 0 ? issued >= total : bench_now_ns() >= end_ns) break;
    async_issue(i);
    issued++;
    outstanding++;
  }
  while (outstanding > 0) {
    int n = lbc_cq_poll(CQ, ev, sizeof(lbc_event), ASYNC_BATCH, 60000);
    if (n < 0) {
      fprintf(stderr, "lbc_load: lbc_cq_poll: %d (%s)\n", n, lbc_strerror(n));
      exit(1);
    }
    if (n == 0) {
      fprintf(stderr, "lbc_load: no completion in 60 s (%d outstanding)\n", outstanding);
      exit(1);
    }
    uint64_t now = bench_now_ns();
    int more = total > 0 ? 1 : now < end_ns;
    for (int k = 0; k < n; k++) {
      if (ev[k].kind != LBC_EVENT_UNARY) {
        fprintf(stderr, "lbc_load: unexpected event kind %d\n", ev[k].kind);
        exit(1);
      }
      intptr_t slot = (intptr_t)ev[k].tag - 1;
      outstanding--;
      if (async_check(ev[k].response)) {
        if (s) bench_push(s, now - ISSUED_AT[slot]);
      } else if (s) {
        s->errors++;
      }
      if (more && (total == 0 || issued < total)) {
        async_issue(slot);
        issued++;
        outstanding++;
      }
    }
  }
}

static void run_async(void) {
  if (lbc_cq_new(&CQ) != LBC_OK) {
    fprintf(stderr, "lbc_load: lbc_cq_new: %s\n", lbc_last_errmsg());
    exit(1);
  }
  ISSUED_AT = calloc((size_t)A.threads, sizeof(uint64_t));
  if (A.warmup_calls > 0)
    async_phase(A.warmup_calls * A.threads, 0, NULL);
  else
    async_phase(0, bench_now_ns() + (uint64_t)A.warmup_ms * 1000000ull, NULL);
  if (A.handshake) bench_handshake();
  double cpu0 = bench_cpu_seconds();
  uint64_t t0 = bench_now_ns();
  async_phase(A.calls, t0 + (uint64_t)(A.seconds * 1e9), &SAMPLES[0]);
  uint64_t t1 = bench_now_ns();
  double cpu1 = bench_cpu_seconds();
  char extra[96];
  snprintf(extra, sizeof extra, "\"mode\": \"async\", \"outstanding\": %d", A.threads);
  bench_report("lbchannel-c-async", lbc_version(), &A, SAMPLES, (t1 - t0) / 1e9, cpu1 - cpu0,
               extra);
  lbc_cq_free(CQ);
}

int main(int argc, char **argv) {
  bench_parse_args(argc, argv, &A);
  bench_require_small_payload(&A, "lbc_load");
  REQ_LEN = bench_make_msg(REQ, A.payload);

  CH = bench_open_channel(&A, "lbc_load");
  if (!CH) return 1;

  SAMPLES = calloc((size_t)A.threads, sizeof(bench_samples));
  if (A.async_mode) {
    run_async();
    lbc_channel_close(CH);
    return 0;
  }
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
