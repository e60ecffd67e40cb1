/*
 * test_stream_lead.c — a thread blocked in lbc_call_recv (or a blocking
 * lbc_call_send / lbc_call_finish) on a stream without a completion queue drives
 * the channel's I/O itself (leader/follower, issue #11): in a one-thread ping-pong
 * the channel's own I/O thread stays asleep, and the edge cases still deliver
 * everything: two receivers on two streams of one channel, a receive that times
 * out while leading, lbc_call_cancel / lbc_call_free from another thread while
 * one leads, lbc_channel_close while one leads, blocking lbc_unary calls beside a
 * leading receiver.
 *
 * The observable (as test_cq_lead.c): the read system calls and voluntary context
 * switches of the channel's threads (/proc/self/task/TID/io and status). A thread
 * that serves every message reads a socket and sleeps at least once per round
 * trip; a parked I/O thread reads nothing and wakes once per grace period (5 ms).
 *
 *   Tests/c/run-interop.sh build/test_stream_lead   (grpc.testing.TestService servers)
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
#include "pb.h"

#define M_FDX "/grpc.testing.TestService/FullDuplexCall"
#define M_UNARY "/grpc.testing.TestService/UnaryCall"

static const char *g_target;

#include "lead_support.h"

/* A FullDuplexCall request for one response of `size` bytes after `delay_us`. */
static void request(pb_buf *b, int32_t size, int32_t delay_us) {
  memset(b, 0, sizeof *b);
  pb_streaming_output_request(b, &size, 1, delay_us, 16, 0, NULL);
}

static lbc_call *start_stream(lbc_channel *ch) {
  lbc_call *call = NULL;
  CHECK_RC(lbc_call_start(ch, M_FDX, NULL, 60000, NULL, NULL, &call), LBC_OK);
  return call;
}

/* One round trip: send a request for `size` bytes, then a blocking receive.
 * Returns 1 when the response carried exactly `size` body bytes. */
static int round_trip(lbc_call *call, int32_t size, long timeout_ms) {
  pb_buf req;
  request(&req, size, 0);
  int rc = lbc_call_send(call, req.data, req.len, 0, timeout_ms);
  pb_buf_free(&req);
  if (rc != LBC_OK) {
    CHECK(0, "lbc_call_send: %d (%s) %s", rc, lbc_strerror(rc), lbc_last_errmsg());
    return 0;
  }
  void *m = NULL;
  size_t len = 0;
  rc = lbc_call_recv(call, timeout_ms, &m, &len);
  if (rc != LBC_OK) {
    CHECK(0, "lbc_call_recv: %d (%s) %s", rc, lbc_strerror(rc), lbc_last_errmsg());
    return 0;
  }
  size_t blen = 0;
  int ok = pb_get_payload_body(m, len, 1, NULL, &blen, NULL) == 0 && blen == (size_t)size;
  lbc_free(m);
  CHECK(ok, "response of %zu body bytes, expected %d", blen, (int)size);
  return ok;
}

/* Close the send side, expect the end and status OK, free. */
static void finish_ok(lbc_call *call) {
  void *m = NULL;
  size_t len = 0;
  int status = -1;
  const char *msg = NULL;
  CHECK_RC(lbc_call_close_send(call), LBC_OK);
  CHECK_RC(lbc_call_recv(call, 10000, &m, &len), LBC_END);
  CHECK_RC(lbc_call_finish(call, 10000, &status, &msg, NULL), LBC_OK);
  CHECK(status == LBC_STATUS_OK, "status %s \"%s\"", lbc_status_name(status), msg ? msg : "");
  lbc_call_free(call);
}

/* Ping-pong on one stream from one thread: the receiver leads, the channel's I/O
 * thread stays parked. */
TEST(test_receiver_leads) {
  opened o;
  open_channel(&o);
  if (!o.ch) return;
  lbc_call *call = start_stream(o.ch);
  if (!call) return;
  for (int i = 0; i < 50; i++) round_trip(call, 32, 10000);
  const int rounds = 400;
  long s0 = channel_figure(&o, "status", "voluntary_ctxt_switches:");
  long r0 = channel_figure(&o, "io", "syscr:");
  double t0 = now_ms();
  int ok = 0;
  for (int i = 0; i < rounds; i++) ok += round_trip(call, 32 + i % 7, 10000);
  double elapsed = now_ms() - t0;
  long switched = channel_figure(&o, "status", "voluntary_ctxt_switches:") - s0;
  long reads = channel_figure(&o, "io", "syscr:") - r0;
  CHECK(ok == rounds, "%d of %d round trips", ok, rounds);
  printf("  %d round trips in %.0f ms: channel threads read %ld times, switched %ld times\n", rounds, elapsed,
         reads, switched);
  CHECK(r0 >= 0 && reads < rounds / 4, "the channel's threads made %ld read calls for %d round trips (< %d when "
        "the receiver leads)", reads, rounds, rounds / 4);
  long bound = rounds / 2 + (long)(elapsed / 5.0);
  CHECK(switched < bound, "the channel's threads switched %ld times for %d round trips in %.0f ms (< %ld when "
        "the receiver leads)", switched, rounds, elapsed, bound);
  finish_ok(call);
  lbc_channel_close(o.ch);
}

/* A stream on a completion queue that gets only its end event
 * (lbc_call_set_events(call, 0), as the Python binding's sync streams): its
 * receiver leads too, and LBC_CALL_DONE still reaches the queue. */
TEST(test_done_only_queue_leads) {
  opened o;
  open_channel(&o);
  lbc_cq *cq = NULL;
  lbc_call *call = NULL;
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  if (!o.ch || !cq) return;
  CHECK_RC(lbc_call_start(o.ch, M_FDX, NULL, 60000, cq, (void *)7, &call), LBC_OK);
  if (!call) return;
  CHECK_RC(lbc_call_set_events(call, 0), LBC_OK);
  for (int i = 0; i < 50; i++) round_trip(call, 32, 10000);
  const int rounds = 400;
  long r0 = channel_figure(&o, "io", "syscr:");
  int ok = 0;
  for (int i = 0; i < rounds; i++) ok += round_trip(call, 32, 10000);
  long reads = channel_figure(&o, "io", "syscr:") - r0;
  CHECK(ok == rounds, "%d of %d round trips", ok, rounds);
  printf("  %d round trips: channel threads read %ld times\n", rounds, reads);
  CHECK(r0 >= 0 && reads < rounds / 4, "the channel's threads made %ld read calls for %d round trips (< %d when "
        "the receiver leads)", reads, rounds, rounds / 4);
  CHECK_RC(lbc_call_close_send(call), LBC_OK);
  void *m = NULL;
  size_t len = 0;
  CHECK_RC(lbc_call_recv(call, 10000, &m, &len), LBC_END);
  lbc_event ev[4];
  int n = lbc_cq_poll(cq, ev, sizeof ev[0], 4, 5000);
  CHECK(n == 1 && ev[0].tag == (void *)7 && (ev[0].flags & LBC_CALL_DONE), "the end event: %d events, flags %u", n,
        n > 0 ? ev[0].flags : 0);
  int status = -1;
  CHECK_RC(lbc_call_finish(call, 0, &status, NULL, NULL), LBC_OK);
  CHECK(status == LBC_STATUS_OK, "status %s", lbc_status_name(status));
  lbc_call_free(call);
  lbc_cq_free(cq);
  lbc_channel_close(o.ch);
}

/* Two threads ping-pong on two streams of one channel: one leads, the other
 * follows (or leads in turn); every response reaches its own stream. */
typedef struct {
  lbc_channel *ch;
  int32_t base;
  int ok;
} pinger;

static void *ping_thread(void *p) {
  pinger *a = p;
  lbc_call *call = start_stream(a->ch);
  if (!call) return NULL;
  for (int i = 0; i < 300; i++) a->ok += round_trip(call, a->base + i % 5, 10000);
  finish_ok(call);
  return NULL;
}

TEST(test_two_receivers) {
  opened o;
  open_channel(&o);
  if (!o.ch) return;
  pinger a = {o.ch, 40, 0}, b = {o.ch, 60, 0};
  pthread_t ta, tb;
  double t0 = now_ms();
  pthread_create(&ta, NULL, ping_thread, &a);
  pthread_create(&tb, NULL, ping_thread, &b);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  CHECK(a.ok == 300 && b.ok == 300, "two receivers: %d and %d of 300 round trips", a.ok, b.ok);
  CHECK(now_ms() - t0 < 20000 * time_scale(), "600 round trips on two streams took %.0f ms", now_ms() - t0);
  lbc_channel_close(o.ch);
}

/* A receive times out while leading (the response comes 300 ms later): it returns
 * LBC_ERR_WOULD_BLOCK in time, other calls still complete, and the response
 * arrives without anyone leading (the I/O thread takes over). */
TEST(test_timeout_while_leading) {
  opened o;
  open_channel(&o);
  if (!o.ch) return;
  lbc_call *call = start_stream(o.ch);
  if (!call) return;
  for (int i = 0; i < 20; i++) round_trip(call, 32, 10000);
  for (int round = 0; round < 3; round++) {
    pb_buf req;
    request(&req, 100 + round, 300000);
    CHECK_RC(lbc_call_send(call, req.data, req.len, 0, 10000), LBC_OK);
    pb_buf_free(&req);
    void *m = NULL;
    size_t len = 0;
    double t0 = now_ms();
    int rc = lbc_call_recv(call, 50, &m, &len);
    double waited = now_ms() - t0;
    CHECK(rc == LBC_ERR_WOULD_BLOCK, "round %d: recv returned %d (%s) before the delayed response", round, rc,
          lbc_strerror(rc));
    if (rc == LBC_OK) lbc_free(m);
    CHECK(waited >= 45 && waited < 250 * time_scale(), "round %d: recv with a 50 ms timeout took %.0f ms", round,
          waited);
    /* A blocking unary call meanwhile. */
    pb_buf u;
    memset(&u, 0, sizeof u);
    pb_simple_request(&u, 8, 8, 0, NULL);
    lbc_response *resp = NULL;
    CHECK_RC(lbc_unary(o.ch, M_UNARY, u.data, u.len, NULL, 10000, &resp), LBC_OK);
    if (resp) CHECK(lbc_response_status(resp) == 0, "round %d: unary status %d", round, lbc_response_status(resp));
    lbc_response_free(resp);
    pb_buf_free(&u);
    /* Nobody waits on the stream now: the response must still arrive. */
    sleep_ms((long)(900 * time_scale()));
    m = NULL;
    rc = lbc_call_recv(call, 0, &m, &len);
    CHECK(rc == LBC_OK, "round %d: the delayed response did not arrive without a waiter (%d)", round, rc);
    if (rc == LBC_OK) lbc_free(m);
  }
  finish_ok(call);
  lbc_channel_close(o.ch);
}

/* A thread blocked in an operation on `call` (0 recv, 1 finish). */
typedef struct {
  lbc_call *call;
  int which;
  int rc;
  double returned_ms;
} blocked;

static void *run_blocked(void *p) {
  blocked *b = p;
  void *m = NULL;
  size_t len = 0;
  int status = -1;
  if (b->which == 0) {
    b->rc = lbc_call_recv(b->call, 20000, &m, &len);
    if (b->rc == LBC_OK) lbc_free(m);
  } else {
    b->rc = lbc_call_finish(b->call, 20000, &status, NULL, NULL);
  }
  b->returned_ms = now_ms();
  return NULL;
}

/* A stream whose response comes in 10 s, warmed up so that its receiver leads. */
static lbc_call *slow_stream(lbc_channel *ch) {
  lbc_call *call = start_stream(ch);
  if (!call) return NULL;
  for (int i = 0; i < 10; i++) round_trip(call, 32, 10000);
  pb_buf req;
  request(&req, 50, 10000000);
  CHECK_RC(lbc_call_send(call, req.data, req.len, 0, 10000), LBC_OK);
  pb_buf_free(&req);
  return call;
}

/* lbc_call_cancel, then lbc_call_free, from this thread while another leads in
 * recv (a third waits in finish): they return at once and the channel goes on. */
TEST(test_cancel_and_free_while_leading) {
  opened o;
  open_channel(&o);
  if (!o.ch) return;
  lbc_call *call = slow_stream(o.ch);
  if (!call) return;
  blocked r = {call, 0, -99, 0}, f = {call, 1, -99, 0};
  pthread_t tr, tf;
  pthread_create(&tr, NULL, run_blocked, &r);
  pthread_create(&tf, NULL, run_blocked, &f);
  sleep_ms(200);
  CHECK(r.rc == -99 && f.rc == -99, "recv (%d) or finish (%d) returned before the cancel", r.rc, f.rc);
  double t0 = now_ms();
  CHECK_RC(lbc_call_cancel(call), LBC_OK);
  pthread_join(tr, NULL);
  pthread_join(tf, NULL);
  CHECK(r.rc == LBC_END, "recv during the cancel returned %d (%s)", r.rc, lbc_strerror(r.rc));
  CHECK(f.rc == LBC_OK, "finish during the cancel returned %d (%s)", f.rc, lbc_strerror(f.rc));
  CHECK(r.returned_ms - t0 < 1000 * time_scale() && f.returned_ms - t0 < 1000 * time_scale(),
        "recv / finish returned %.0f / %.0f ms after the cancel", r.returned_ms - t0, f.returned_ms - t0);
  lbc_call_free(call);

  call = slow_stream(o.ch);
  if (!call) return;
  blocked r2 = {call, 0, -99, 0}, f2 = {call, 1, -99, 0};
  pthread_create(&tr, NULL, run_blocked, &r2);
  pthread_create(&tf, NULL, run_blocked, &f2);
  sleep_ms(200);
  t0 = now_ms();
  lbc_call_free(call);
  pthread_join(tr, NULL);
  pthread_join(tf, NULL);
  CHECK(r2.rc == LBC_ERR_CLOSED && f2.rc == LBC_ERR_CLOSED, "recv / finish during the free returned %d / %d",
        r2.rc, f2.rc);
  CHECK(r2.returned_ms - t0 < 1000 * time_scale() && f2.returned_ms - t0 < 1000 * time_scale(),
        "recv / finish returned %.0f / %.0f ms after the free", r2.returned_ms - t0, f2.returned_ms - t0);
  /* The channel still works: a new stream, and a blocking unary call. */
  call = start_stream(o.ch);
  if (call) {
    for (int i = 0; i < 20; i++) round_trip(call, 32, 10000);
    finish_ok(call);
  }
  lbc_channel_close(o.ch);
}

/* lbc_channel_close while a thread leads in recv: the recv ends, and the call
 * reports a final status. */
TEST(test_close_while_leading) {
  opened o;
  open_channel(&o);
  if (!o.ch) return;
  lbc_call *call = slow_stream(o.ch);
  if (!call) return;
  blocked r = {call, 0, -99, 0};
  pthread_t tr;
  pthread_create(&tr, NULL, run_blocked, &r);
  sleep_ms(200);
  double t0 = now_ms();
  lbc_channel_close(o.ch);
  pthread_join(tr, NULL);
  CHECK(r.rc == LBC_END, "recv during lbc_channel_close returned %d (%s)", r.rc, lbc_strerror(r.rc));
  CHECK(r.returned_ms - t0 < 2000 * time_scale(), "recv returned %.0f ms after lbc_channel_close",
        r.returned_ms - t0);
  int status = -1;
  CHECK_RC(lbc_call_finish(call, 1000, &status, NULL, NULL), LBC_OK);
  CHECK(status != LBC_STATUS_OK, "a stream cut by lbc_channel_close ended OK");
  lbc_call_free(call);
}

/* Blocking unary calls (and a second stream's ping-pong) beside a thread leading
 * in recv for a slow response. */
TEST(test_unary_beside_receiver) {
  opened o;
  open_channel(&o);
  if (!o.ch) return;
  lbc_call *call = start_stream(o.ch);
  if (!call) return;
  for (int i = 0; i < 10; i++) round_trip(call, 32, 10000);
  pb_buf req;
  request(&req, 77, 1000000);
  CHECK_RC(lbc_call_send(call, req.data, req.len, 0, 10000), LBC_OK);
  pb_buf_free(&req);
  blocked r = {call, 0, -99, 0};
  pthread_t tr;
  pthread_create(&tr, NULL, run_blocked, &r);
  sleep_ms(100);
  double t0 = now_ms();
  pb_buf u;
  memset(&u, 0, sizeof u);
  pb_simple_request(&u, 8, 8, 0, NULL);
  for (int i = 0; i < 50; i++) {
    lbc_response *resp = NULL;
    CHECK_RC(lbc_unary(o.ch, M_UNARY, u.data, u.len, NULL, 10000, &resp), LBC_OK);
    if (resp) CHECK(lbc_response_status(resp) == 0, "blocking call %d: status %d", i, lbc_response_status(resp));
    lbc_response_free(resp);
  }
  pb_buf_free(&u);
  lbc_call *other = start_stream(o.ch);
  if (other) {
    for (int i = 0; i < 20; i++) round_trip(other, 33, 10000);
    finish_ok(other);
  }
  CHECK(now_ms() - t0 < 900, "50 blocking calls and 20 round trips beside a leading receiver took %.0f ms",
        now_ms() - t0);
  pthread_join(tr, NULL);
  CHECK(r.rc == LBC_OK, "the leading receiver got %d (%s)", r.rc, lbc_strerror(r.rc));
  finish_ok(call);
  lbc_channel_close(o.ch);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s TARGET   (interop servers, see Tests/c/run-interop.sh)\n", argv[0]);
    return 2;
  }
  g_target = argv[1];
  printf("lbchannel %s, target %s\n", lbc_version(), g_target);
  RUN(test_receiver_leads);
  RUN(test_done_only_queue_leads);
  RUN(test_two_receivers);
  RUN(test_timeout_while_leading);
  RUN(test_cancel_and_free_while_leading);
  RUN(test_close_while_leading);
  RUN(test_unary_beside_receiver);
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
