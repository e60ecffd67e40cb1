/*
 * test_cq_lead.c — a thread waiting in lbc_cq_poll drives the channel's I/O
 * (leader/follower, issue #11): at one outstanding lbc_unary_async call the
 * channel's own I/O thread stays asleep, and the edge cases still deliver every
 * event: no poller at all, a poller that times out while leading, two pollers on
 * one queue, lbc_cq_free while a poller leads, a queue shared by two channels, a
 * blocking lbc_unary while a poller leads.
 *
 * The observable: the read system calls and voluntary context switches of the
 * channel's threads (the threads lbc_channel_open started: /proc/self/task/TID/io
 * and status). A thread that serves every call reads a socket and sleeps at least
 * once per call; a parked I/O thread reads nothing and wakes only once per grace
 * period (5 ms) while pollers lead.
 *
 *   Tests/c/run.sh build/test_cq_lead     (three backends: Tests/python/backend.py)
 */
#define _GNU_SOURCE

#include <lbchannel.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static const char *g_target;

#include "lead_support.h"

static int start_async(lbc_channel *ch, const char *method, const char *body, lbc_cq *cq, long tag) {
  return lbc_unary_async(ch, method, body, strlen(body), NULL, 20000, cq, (void *)tag, NULL);
}

/* Poll until `want` unary events arrived (or `timeout_ms` passed); checks each is OK
 * and frees it. Returns how many arrived. */
static int collect(lbc_cq *cq, int want, double timeout_ms) {
  lbc_event ev[8];
  int got = 0;
  double end = now_ms() + timeout_ms;
  while (got < want && now_ms() < end) {
    int n = lbc_cq_poll(cq, ev, sizeof ev[0], 8, 200);
    CHECK(n >= 0, "lbc_cq_poll returned %d (%s)", n, lbc_strerror(n));
    if (n < 0) break;
    for (int i = 0; i < n; i++) {
      CHECK(ev[i].kind == LBC_EVENT_UNARY, "event kind %d", ev[i].kind);
      if (ev[i].kind != LBC_EVENT_UNARY) continue;
      int st = lbc_response_status(ev[i].response);
      CHECK(st == 0, "call %ld: status %s (%s)", (long)ev[i].tag, lbc_status_name(st),
            lbc_response_message(ev[i].response));
      lbc_response_free(ev[i].response);
      got++;
    }
  }
  return got;
}

/* One async call at a time, polled with a timeout from this thread: the poller
 * leads, the channel's I/O thread stays parked. */
TEST(test_poller_leads) {
  opened o;
  open_channel(&o);
  lbc_cq *cq = NULL;
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  if (!o.ch || !cq) return;
  /* Warm up: connections, and the first rounds (the I/O thread polls until it
   * parks for the poller). */
  for (int i = 0; i < 50; i++) {
    CHECK_RC(start_async(o.ch, "/lbtest.Test/Echo", "warm", cq, i + 1), LBC_OK);
    CHECK(collect(cq, 1, 10000) == 1, "warm-up call %d", i);
  }
  const int calls = 400;
  long s0 = channel_figure(&o, "status", "voluntary_ctxt_switches:");
  long r0 = channel_figure(&o, "io", "syscr:");
  double t0 = now_ms();
  int ok = 0;
  for (int i = 0; i < calls; i++) {
    if (start_async(o.ch, "/lbtest.Test/Echo", "ping", cq, 1000 + i) != LBC_OK) break;
    ok += collect(cq, 1, 10000);
  }
  double elapsed = now_ms() - t0;
  long switched = channel_figure(&o, "status", "voluntary_ctxt_switches:") - s0;
  long reads = channel_figure(&o, "io", "syscr:") - r0;
  CHECK(ok == calls, "%d of %d calls completed", ok, calls);
  /* Serving the calls itself, the I/O thread would read a socket (and sleep) at least
   * once per call; parked, it reads nothing and wakes once per 5 ms grace period. */
  printf("  %d calls in %.0f ms: channel threads read %ld times, switched %ld times\n", calls, elapsed, reads,
         switched);
  CHECK(r0 >= 0 && reads < calls / 4, "the channel's threads made %ld read calls for %d calls (< %d when the "
        "poller leads)", reads, calls, calls / 4);
  long bound = calls / 2 + (long)(elapsed / 5.0);
  CHECK(switched < bound, "the channel's threads switched %ld times for %d calls in %.0f ms (< %ld when the "
        "poller leads)", switched, calls, elapsed, bound);
  lbc_cq_free(cq);
  lbc_channel_close(o.ch);
}

/* Nobody polls: the calls still complete (the I/O thread drives them), both on a
 * fresh queue and right after a poller led and returned (it is expected back,
 * but does not come). */
TEST(test_no_poller) {
  opened o;
  open_channel(&o);
  lbc_cq *cq = NULL;
  lbc_event ev[32];
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  if (!o.ch || !cq) return;
  for (int i = 0; i < 20; i++) CHECK_RC(start_async(o.ch, "/lbtest.Test/Echo", "x", cq, i + 1), LBC_OK);
  sleep_ms((long)(1500 * time_scale()));
  int n = lbc_cq_poll(cq, ev, sizeof ev[0], 32, 0);
  CHECK(n == 20, "without a poller %d of 20 calls completed in %.1f s", n, 1.5 * time_scale());
  for (int i = 0; i < n; i++) lbc_response_free(ev[i].response);
  for (int round = 0; round < 20; round++) {
    /* A poller leads for one call and returns its event... */
    CHECK_RC(start_async(o.ch, "/lbtest.Test/Echo", "led", cq, 100), LBC_OK);
    CHECK(collect(cq, 1, 10000) == 1, "round %d: led call", round);
    /* ...then starts another and does not come back for a while. */
    CHECK_RC(start_async(o.ch, "/lbtest.Test/Echo", "alone", cq, 101), LBC_OK);
    sleep_ms((long)(300 * time_scale()));
    n = lbc_cq_poll(cq, ev, sizeof ev[0], 32, 0);
    CHECK(n == 1, "round %d: the call started after the poller left did not complete in %.0f ms (%d)", round,
          300 * time_scale(), n);
    for (int i = 0; i < n; i++) lbc_response_free(ev[i].response);
  }
  lbc_cq_free(cq);
  lbc_channel_close(o.ch);
}

/* A poller leads for a slow call and times out: lbc_cq_poll returns 0 in time,
 * and the call completes without any further poll (the I/O thread takes over). */
TEST(test_timeout_while_leading) {
  opened o;
  open_channel(&o);
  lbc_cq *cq = NULL;
  lbc_event ev[4];
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  if (!o.ch || !cq) return;
  for (int i = 0; i < 10; i++) {  /* make the I/O thread park for the poller */
    CHECK_RC(start_async(o.ch, "/lbtest.Test/Echo", "warm", cq, 1), LBC_OK);
    collect(cq, 1, 10000);
  }
  for (int round = 0; round < 3; round++) {
    CHECK_RC(start_async(o.ch, "/lbtest.Test/Sleep", "300", cq, 7), LBC_OK);
    double t0 = now_ms();
    int n = lbc_cq_poll(cq, ev, sizeof ev[0], 4, 50);
    double waited = now_ms() - t0;
    CHECK(n == 0, "round %d: poll returned %d before the 300 ms call ended", round, n);
    CHECK(waited >= 45 && waited < 250 * time_scale(), "round %d: poll with a 50 ms timeout took %.0f ms", round,
          waited);
    /* No poll now: the call must still end (the server answers after 300 ms). */
    sleep_ms((long)(900 * time_scale()));
    n = lbc_cq_poll(cq, ev, sizeof ev[0], 4, 0);
    CHECK(n == 1, "round %d: the call did not complete after its poller timed out (%d)", round, n);
    for (int i = 0; i < n; i++) {
      CHECK(lbc_response_status(ev[i].response) == 0, "round %d: status %d", round,
            lbc_response_status(ev[i].response));
      lbc_response_free(ev[i].response);
    }
  }
  lbc_cq_free(cq);
  lbc_channel_close(o.ch);
}

/* Two threads poll one queue while this one keeps two calls outstanding: every
 * event reaches exactly one of them. */
typedef struct {
  lbc_cq *cq;
  int got;
  int stop;
  pthread_mutex_t *lock;
} poller_arg;

static void *poller(void *p) {
  poller_arg *a = p;
  lbc_event ev[4];
  for (;;) {
    pthread_mutex_lock(a->lock);
    int stop = a->stop;
    pthread_mutex_unlock(a->lock);
    if (stop) break;
    int n = lbc_cq_poll(a->cq, ev, sizeof ev[0], 4, 20);
    if (n < 0) break;
    for (int i = 0; i < n; i++) {
      CHECK(lbc_response_status(ev[i].response) == 0, "status %d", lbc_response_status(ev[i].response));
      lbc_response_free(ev[i].response);
    }
    pthread_mutex_lock(a->lock);
    a->got += n;
    pthread_mutex_unlock(a->lock);
  }
  return NULL;
}

TEST(test_two_pollers) {
  opened o;
  open_channel(&o);
  lbc_cq *cq = NULL;
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  if (!o.ch || !cq) return;
  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  poller_arg a = {cq, 0, 0, &lock}, b = {cq, 0, 0, &lock};
  pthread_t ta, tb;
  pthread_create(&ta, NULL, poller, &a);
  pthread_create(&tb, NULL, poller, &b);
  const int calls = 300;
  int started = 0;
  double end = now_ms() + 30000;
  while (now_ms() < end) {
    pthread_mutex_lock(&lock);
    int done = a.got + b.got;
    pthread_mutex_unlock(&lock);
    if (done >= calls) break;
    if (started < calls && started - done < 2) {
      CHECK_RC(start_async(o.ch, "/lbtest.Test/Echo", "two", cq, started + 1), LBC_OK);
      started++;
    } else {
      sleep_ms(1);
    }
  }
  pthread_mutex_lock(&lock);
  a.stop = b.stop = 1;
  int total = a.got + b.got;
  pthread_mutex_unlock(&lock);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  total = a.got + b.got;
  CHECK(total == calls, "two pollers took %d events of %d calls (%d + %d)", total, calls, a.got, b.got);
  lbc_cq_free(cq);
  lbc_channel_close(o.ch);
}

/* lbc_cq_free while another thread leads in lbc_cq_poll: it returns LBC_ERR_CLOSED
 * at once, and the channel goes on serving calls (the I/O thread takes over). */
typedef struct {
  lbc_cq *cq;
  int rc;
  double returned_ms;
} free_arg;

static void *long_poll(void *p) {
  free_arg *a = p;
  lbc_event ev[1];
  a->rc = lbc_cq_poll(a->cq, ev, sizeof ev[0], 1, 10000);
  a->returned_ms = now_ms();
  if (a->rc > 0) lbc_response_free(ev[0].response);
  return NULL;
}

TEST(test_free_while_leading) {
  opened o;
  open_channel(&o);
  lbc_cq *cq = NULL, *other = NULL;
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  if (!o.ch || !cq) return;
  for (int i = 0; i < 10; i++) {
    CHECK_RC(start_async(o.ch, "/lbtest.Test/Echo", "warm", cq, 1), LBC_OK);
    collect(cq, 1, 10000);
  }
  CHECK_RC(start_async(o.ch, "/lbtest.Test/Sleep", "2000", cq, 9), LBC_OK);
  free_arg a = {cq, 12345, 0};
  pthread_t t;
  pthread_create(&t, NULL, long_poll, &a);
  sleep_ms(150);  /* the poller leads (a call is in flight) */
  double freed = now_ms();
  lbc_cq_free(cq);
  pthread_join(t, NULL);
  CHECK(a.rc == LBC_ERR_CLOSED, "poll during lbc_cq_free returned %d (%s)", a.rc, lbc_strerror(a.rc));
  CHECK(a.returned_ms - freed < 1000 * time_scale(), "poll returned %.0f ms after lbc_cq_free", a.returned_ms - freed);
  /* The channel still works, on a new queue and blocking. */
  CHECK_RC(lbc_cq_new(&other), LBC_OK);
  CHECK_RC(start_async(o.ch, "/lbtest.Test/Echo", "after", other, 1), LBC_OK);
  CHECK(collect(other, 1, 10000) == 1, "call on a new queue after lbc_cq_free");
  lbc_response *resp = NULL;
  CHECK_RC(lbc_unary(o.ch, "/lbtest.Test/Echo", "b", 1, NULL, 10000, &resp), LBC_OK);
  lbc_response_free(resp);
  lbc_cq_free(other);
  lbc_channel_close(o.ch);
}

/* One queue for the calls of two channels (shared: pollers do not lead), then
 * blocking calls while a poller leads: everything completes. */
TEST(test_shared_queue_and_blocking_calls) {
  opened o1, o2;
  open_channel(&o1);
  open_channel(&o2);
  lbc_cq *cq = NULL;
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  if (!o1.ch || !o2.ch || !cq) return;
  int ok = 0;
  for (int i = 0; i < 100; i++) {
    CHECK_RC(start_async(i % 2 ? o1.ch : o2.ch, "/lbtest.Test/Echo", "s", cq, i + 1), LBC_OK);
    ok += collect(cq, 1, 10000);
  }
  CHECK(ok == 100, "shared queue: %d of 100 calls", ok);
  lbc_cq_free(cq);
  lbc_channel_close(o2.ch);
  /* A poller leads for a slow call while this thread makes blocking calls. */
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  for (int i = 0; i < 10; i++) {
    CHECK_RC(start_async(o1.ch, "/lbtest.Test/Echo", "warm", cq, 1), LBC_OK);
    collect(cq, 1, 10000);
  }
  CHECK_RC(start_async(o1.ch, "/lbtest.Test/Sleep", "1000", cq, 5), LBC_OK);
  free_arg a = {cq, 0, 0};
  pthread_t t;
  pthread_create(&t, NULL, long_poll, &a);
  sleep_ms(100);
  double t0 = now_ms();
  for (int i = 0; i < 50; i++) {
    lbc_response *resp = NULL;
    CHECK_RC(lbc_unary(o1.ch, "/lbtest.Test/Echo", "blk", 3, NULL, 10000, &resp), LBC_OK);
    if (resp) CHECK(lbc_response_status(resp) == 0, "blocking call %d: status %d", i, lbc_response_status(resp));
    lbc_response_free(resp);
  }
  CHECK(now_ms() - t0 < 5000 * time_scale(), "50 blocking calls beside a leading poller took %.0f ms", now_ms() - t0);
  pthread_join(t, NULL);
  CHECK(a.rc == 1, "the leading poller got %d events (%s)", a.rc, a.rc < 0 ? lbc_strerror(a.rc) : "");
  lbc_cq_free(cq);
  lbc_channel_close(o1.ch);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s TARGET   (test backends, see Tests/c/run.sh)\n", argv[0]);
    return 2;
  }
  g_target = argv[1];
  printf("lbchannel %s, target %s\n", lbc_version(), g_target);
  RUN(test_poller_leads);
  RUN(test_no_poller);
  RUN(test_timeout_while_leading);
  RUN(test_two_pollers);
  RUN(test_free_while_leading);
  RUN(test_shared_queue_and_blocking_calls);
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
