/*
 * test_streams.c — lbchannel's streaming-call API beyond the interop cases:
 * flow control and bounded memory both ways, many concurrent streams on one
 * channel, cancellation from another thread, completion queues, bad input.
 *
 *   test_streams TARGET
 *
 * TARGET lists running interop servers (Tests/interop/server.py); run it with
 * Tests/c/run-interop.sh. Uses the server's test extension
 * "x-lbtest-sleep-before-read-ms" (the handler waits before reading requests).
 *
 * Memory is measured as this process's VmRSS (/proc/self/status). The memory
 * cases run first, while the heap is still small.
 *
 * Prints one PASS/FAIL line per case, the failed checks above it, and a
 * summary with counts; exits 1 if any check failed.
 *
 * Build: cc -Wall -Wextra -Werror -pthread test_streams.c $(pkg-config --cflags --libs lbchannel)
 */
#define _POSIX_C_SOURCE 200809L

#include <lbchannel.h>

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interop_common.h"
#include "pb.h"

static const char *g_target;

#define MiB (1024L * 1024L)

/* AddressSanitizer keeps freed memory in quarantine, so RSS says nothing about what
 * the library holds: under `make sanitize SAN=address` the memory bounds are
 * reported but not checked (every other check still runs). */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_CHECKED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_CHECKED 0
#endif
#endif
#ifndef RSS_CHECKED
#define RSS_CHECKED 1
#endif
#define CHECK_RSS(cond, ...) CHECK(!RSS_CHECKED || (cond), __VA_ARGS__)
#define KiB 1024L
#define TIMEOUT_MS 30000

/* Sanitizer builds run several times slower: LBC_TEST_TIME_SCALE (make sanitize sets
 * it) stretches the time guards of the bulk-transfer cases. Only time limits scale;
 * memory bounds and delivery checks stay exact. */
static double time_scale(void) {
  const char *s = getenv("LBC_TEST_TIME_SCALE");
  double f = s ? atof(s) : 1.0;
  return f >= 1.0 ? f : 1.0;
}

/* A channel with extra options (key, value, ..., NULL). */
static lbc_channel *open_with(const char *k1, const char *v1, const char *k2, const char *v2) {
  const char *kv[] = {"max_receive_message_size", "16777216", k1, v1, k2, v2, NULL};
  if (!k1) kv[2] = NULL;
  else if (!k2) kv[4] = NULL;
  return open_channel_kv(g_target, kv);
}

/* Make sure every endpoint of ch is connected (a few calls), so that
 * connection set-up does not count against a memory baseline. */
static void warm_up(lbc_channel *ch) {
  for (int i = 0; i < 3 * target_count(g_target); i++) {
    lbc_response *resp = NULL;
    if (lbc_unary(ch, M_EMPTY, NULL, 0, NULL, TIMEOUT_MS, &resp) == LBC_OK) lbc_response_free(resp);
  }
}

/* ------------------------------------------------------------------------- */
/* (a) A slow reader: the client holds about one window, not the whole stream */
/* ------------------------------------------------------------------------- */

/*
 * StreamingOutputCall of `count` responses of `size` bytes each, on a channel
 * with stream_window_bytes = window. The reader first does not read for
 * pause_ms while RSS is sampled (the server would send everything at once if
 * nothing pushed back), then reads to the end and checks every message.
 */
static void slow_reader(long window, int count, long size, long pause_ms, double max_read_s) {
  char wtext[32];
  snprintf(wtext, sizeof wtext, "%ld", window);
  lbc_channel *ch = open_with("stream_window_bytes", wtext, NULL, NULL);
  REQUIRE(ch, "open");
  warm_up(ch);

  int32_t *sizes = malloc(sizeof(int32_t) * (size_t)count);
  pb_buf req = {0};
  for (int i = 0; i < count; i++) sizes[i] = (int32_t)size;
  pb_streaming_output_request(&req, sizes, (size_t)count, 0, -1, 0, NULL);
  free(sizes);

  long baseline = rss_live_bytes();
  lbc_call *call = NULL;
  int64_t call_timeout_ms = (int64_t)(TIMEOUT_MS * time_scale());
  max_read_s *= time_scale();
  if (!CHECK_RC(lbc_call_start(ch, M_SOUT, NULL, call_timeout_ms, NULL, NULL, &call), LBC_OK)) {
    pb_buf_free(&req);
    lbc_channel_close(ch);
    return;
  }
  CHECK_RC(lbc_call_send(call, req.data, req.len, LBC_SEND_END, TIMEOUT_MS), LBC_OK);
  pb_buf_free(&req);

  /* Not reading: sample RSS. */
  long peak = baseline;
  double t_end = now_s() + pause_ms / 1000.0;
  while (now_s() < t_end) {
    long r = rss_live_bytes();
    if (r > peak) peak = r;
    sleep_ms(20);
  }
  long bound = 3 * window + 2 * MiB + (size > window ? size : 0);
  CHECK_RSS(peak - baseline < bound,
        "not reading for %ld ms: RSS grew by %.1f MiB (baseline %.1f MiB), bound %.1f MiB "
        "(3 windows of %ld bytes + 2 MiB%s)",
        pause_ms, (peak - baseline) / (double)MiB, baseline / (double)MiB, bound / (double)MiB,
        window, size > window ? " + one message" : "");
  printf("    window %ld, %d x %ld bytes: RSS +%.1f MiB while not reading (bound %.1f MiB)\n",
         window, count, size, (peak - baseline) / (double)MiB, bound / (double)MiB);

  /* Something did arrive meanwhile (the stream was flowing, then stopped by flow control). */
  void *m = NULL;
  size_t len = 0;
  int rc = lbc_call_recv(call, 0, &m, &len);
  CHECK(rc == LBC_OK, "after the pause no message was ready: recv(timeout 0) = %d (%s)", rc,
        lbc_strerror(rc));

  /* Now read everything. */
  int got = 0, bad = 0;
  long read_peak = baseline;
  double t0 = now_s();
  while (rc == LBC_OK) {
    int zero = 0;
    size_t blen = 0;
    if (pb_get_payload_body(m, len, 1, NULL, &blen, &zero) != 0 || blen != (size_t)size || !zero)
      bad++;
    lbc_free(m);
    got++;
    if ((got & 31) == 0) {
      long r = rss_live_bytes();
      if (r > read_peak) read_peak = r;
    }
    if (now_s() - t0 > max_read_s) break;
    rc = lbc_call_recv(call, TIMEOUT_MS, &m, &len);
  }
  double t_read = now_s() - t0;
  CHECK(rc == LBC_END, "reading stopped with %d (%s) after %d messages in %.1f s", rc,
        lbc_strerror(rc), got, t_read);
  CHECK(got == count && bad == 0, "%d messages (%d malformed or wrong size), expected %d", got,
        bad, count);
  printf("    read %d x %ld bytes in %.2f s (%.0f MiB/s); RSS peak while reading +%.1f MiB\n", got,
         size, t_read, got * (double)size / MiB / (t_read > 0 ? t_read : 1),
         (read_peak - baseline) / (double)MiB);
  /* While reading at full speed the call still holds at most about a window. */
  CHECK_RSS(read_peak - baseline < bound + 4 * MiB, "RSS grew by %.1f MiB while reading",
        (read_peak - baseline) / (double)MiB);
  int status = -1;
  if (CHECK_RC(lbc_call_finish(call, TIMEOUT_MS, &status, NULL, NULL), LBC_OK))
    CHECK(status == LBC_STATUS_OK, "status %s", lbc_status_name(status));
  lbc_call_free(call);
  lbc_channel_close(ch);
}

/* 1 GiB: 1024 responses of 1 MiB, a 2 MiB window; pause 2 s. */
static void slow_reader_1gib(void) { slow_reader(2 * MiB, 1024, MiB, 2000, 25.0); }

/* Messages (1 MiB) much larger than the window (64 KiB): the window must be
 * returned for partly received messages, or the stream deadlocks. */
static void slow_reader_small_window(void) { slow_reader(64 * KiB, 16, MiB, 1000, 10.0); }

/* ------------------------------------------------------------------------- */
/* (b) A fast writer: sends stop at window + send buffer, then all arrive     */
/* ------------------------------------------------------------------------- */

#define SEND_BUFFER (64 * KiB)
#define MSG_PAYLOAD (64 * KiB)
#define SERVER_SLEEP_MS 3000
/* The interop server's per-stream receive window is gRPC's default (64 KiB,
 * BDP probing off); allow for up to 1 MiB of it (plus connection-level
 * buffering in the server's transport). */
#define PEER_WINDOW_BOUND (1 * MiB)

/* Poll cq (events of the one call tagged `tag`) until one has a bit of
 * `want` or timeout_ms passed; returns the flags seen. */
static unsigned wait_flags(lbc_cq *cq, void *tag, unsigned want, long timeout_ms) {
  unsigned seen = 0;
  double deadline = now_s() + timeout_ms / 1000.0;
  do {
    lbc_event ev[8];
    long left = (long)((deadline - now_s()) * 1000);
    int n = lbc_cq_poll(cq, ev, sizeof(lbc_event), 8, left > 0 ? left : 0);
    if (!CHECK(n >= 0, "lbc_cq_poll: %d", n)) break;
    for (int i = 0; i < n; i++) {
      CHECK(ev[i].tag == tag && ev[i].kind == LBC_EVENT_CALL, "event with a foreign tag/kind");
      seen |= ev[i].flags;
    }
  } while (!(seen & want) && now_s() < deadline);
  return seen;
}

static void fast_writer(void) {
  char sbuf[32];
  snprintf(sbuf, sizeof sbuf, "%ld", (long)SEND_BUFFER);
  lbc_channel *ch = open_with("stream_send_buffer_bytes", sbuf, NULL, NULL);
  REQUIRE(ch, "open");
  warm_up(ch);
  lbc_cq *cq = NULL;
  REQUIRE(lbc_cq_new(&cq) == LBC_OK, "lbc_cq_new");
  lbc_metadata *md = NULL;
  lbc_metadata_new(&md);
  snprintf(sbuf, sizeof sbuf, "%d", SERVER_SLEEP_MS);
  lbc_metadata_add(md, "x-lbtest-sleep-before-read-ms", sbuf, strlen(sbuf));

  pb_buf msg = {0};
  pb_streaming_input_request(&msg, MSG_PAYLOAD);
  long baseline = rss_live_bytes();
  lbc_call *call = NULL;
  int tag = 0;
  double t_start = now_s();
  int rc = lbc_call_start(ch, M_SIN, md, TIMEOUT_MS, cq, &tag, &call);
  lbc_metadata_free(md);
  if (!CHECK(rc == LBC_OK, "lbc_call_start: %s", lbc_strerror(rc))) goto out;

  /* Non-blocking sends until the call pushes back for good: after each
   * WOULD_BLOCK wait for LBC_CALL_WRITABLE (the I/O thread moved data to the
   * network); when none comes within 500 ms, flow control has stopped us. */
  long accepted = 0, sent_msgs = 0, would_blocks = 0;
  const long max_msgs = 4096; /* 256 MiB: far beyond any sane buffer */
  int stalled = 0;
  double t_block = 0;
  long peak = baseline;
  while (sent_msgs < max_msgs) {
    rc = lbc_call_send(call, msg.data, msg.len, 0, 0);
    if (rc == LBC_OK) {
      accepted += (long)msg.len;
      sent_msgs++;
      continue;
    }
    if (!CHECK(rc == LBC_ERR_WOULD_BLOCK, "lbc_call_send(timeout 0): %d (%s) %s", rc,
               lbc_strerror(rc), lbc_last_errmsg()))
      break;
    would_blocks++;
    t_block = now_s();
    unsigned flags = wait_flags(cq, &tag, LBC_CALL_WRITABLE, 500);
    CHECK(!(flags & LBC_CALL_DONE), "the call ended while sending");
    if (!(flags & LBC_CALL_WRITABLE)) {
      stalled = 1;
      break;
    }
  }
  long bound = PEER_WINDOW_BOUND + SEND_BUFFER + 2 * (long)msg.len;
  printf("    %ld messages (%ld bytes) accepted, %ld WOULD_BLOCKs, stalled at %.3f s (bound %ld)\n",
         sent_msgs, accepted, would_blocks, t_block - t_start, bound);
  CHECK(stalled, "sends never stalled though the server does not read: %ld bytes accepted",
        accepted);
  CHECK(accepted <= bound, "%ld bytes accepted before the sends stalled, more than peer window + "
        "send buffer + 2 messages = %ld", accepted, bound);
  CHECK(accepted >= SEND_BUFFER, "only %ld bytes accepted: the %ld-byte send buffer never filled",
        accepted, (long)SEND_BUFFER);
  if (stalled)
    CHECK(t_block - t_start < SERVER_SLEEP_MS / 1000.0 - 0.5,
          "the stall came after %.2f s, not before the server started reading", t_block - t_start);

  /* Pushed back: memory stays flat while the server sleeps; then WRITABLE. */
  int writable = 0;
  double t_writable = 0;
  while (stalled && !writable && now_s() - t_start < SERVER_SLEEP_MS / 1000.0 + 10) {
    unsigned flags = wait_flags(cq, &tag, LBC_CALL_WRITABLE, 50);
    long r = rss_live_bytes();
    if (r > peak) peak = r;
    CHECK(!(flags & LBC_CALL_DONE), "the call ended while pushed back");
    if (flags & LBC_CALL_WRITABLE) {
      writable = 1;
      t_writable = now_s();
    }
  }
  if (stalled) {
    CHECK(writable, "no LBC_CALL_WRITABLE within %d s after the server started reading", 10);
    if (writable) {
      CHECK(t_writable - t_start > SERVER_SLEEP_MS / 1000.0 - 1.0,
            "LBC_CALL_WRITABLE after %.2f s, before the server (sleeping %d ms) read anything",
            t_writable - t_start, SERVER_SLEEP_MS);
      rc = lbc_call_send(call, msg.data, msg.len, 0, 0);
      if (CHECK(rc == LBC_OK, "send(timeout 0) after LBC_CALL_WRITABLE: %d (%s)", rc,
                lbc_strerror(rc)))
        sent_msgs++;
    }
  }
  CHECK_RSS(peak - baseline < bound + 4 * MiB, "RSS grew by %.1f MiB while pushed back (bound %.1f MiB)",
        (peak - baseline) / (double)MiB, (bound + 4 * MiB) / (double)MiB);

  /* Then blocking sends: 64 MiB more, all delivered, memory still flat. */
  long total_msgs = sent_msgs;
  long more = 64 * MiB / MSG_PAYLOAD;
  for (long i = 0; i < more; i++) {
    rc = lbc_call_send(call, msg.data, msg.len, i + 1 == more ? LBC_SEND_END : 0, TIMEOUT_MS);
    if (!CHECK(rc == LBC_OK, "blocking send %ld: %d (%s) %s", i, rc, lbc_strerror(rc),
               lbc_last_errmsg()))
      break;
    total_msgs++;
    if ((i & 15) == 0) {
      long r = rss_live_bytes();
      if (r > peak) peak = r;
    }
  }
  CHECK_RSS(peak - baseline < bound + 8 * MiB, "RSS grew by %.1f MiB while sending 64 MiB",
        (peak - baseline) / (double)MiB);
  void *m = NULL;
  size_t len = 0;
  rc = lbc_call_recv(call, TIMEOUT_MS, &m, &len);
  if (CHECK(rc == LBC_OK, "recv of the StreamingInputCallResponse: %d (%s)", rc, lbc_strerror(rc))) {
    uint64_t agg = 0;
    CHECK(pb_get_varint_field(m, len, 1, &agg) == 0 && agg == (uint64_t)(total_msgs * MSG_PAYLOAD),
          "server got %llu payload bytes, expected %ld", (unsigned long long)agg,
          total_msgs * MSG_PAYLOAD);
    lbc_free(m);
  }
  int status = -1;
  if (CHECK_RC(lbc_call_finish(call, TIMEOUT_MS, &status, NULL, NULL), LBC_OK))
    CHECK(status == LBC_STATUS_OK, "status %s", lbc_status_name(status));
  printf("    %ld messages (%.1f MiB) delivered in %.2f s; RSS peak +%.1f MiB\n", total_msgs,
         total_msgs * (double)msg.len / MiB, now_s() - t_start, (peak - baseline) / (double)MiB);
out:
  lbc_call_free(call);
  lbc_cq_free(cq);
  pb_buf_free(&msg);
  lbc_channel_close(ch);
}

/* stream_send_buffer_bytes = 0: one message at a time. Non-blocking sends get
 * LBC_ERR_WOULD_BLOCK while a message is queued and LBC_CALL_WRITABLE once it has
 * gone out; blocking sends wait for it. Every message arrives. */
static void zero_send_buffer(void) {
  lbc_channel *ch = open_with("stream_send_buffer_bytes", "0", NULL, NULL);
  REQUIRE(ch, "open");
  lbc_cq *cq = NULL;
  REQUIRE(lbc_cq_new(&cq) == LBC_OK, "lbc_cq_new");
  pb_buf msg = {0};
  pb_streaming_input_request(&msg, 4000);
  lbc_call *call = NULL;
  int tag = 0;
  if (!CHECK_RC(lbc_call_start(ch, M_SIN, NULL, TIMEOUT_MS, cq, &tag, &call), LBC_OK)) goto out;
  long sent = 0, would_blocks = 0;
  double deadline = now_s() + 10;
  while (sent < 100 && now_s() < deadline) {
    int rc = lbc_call_send(call, msg.data, msg.len, 0, sent < 50 ? 0 : 2000);
    if (rc == LBC_OK) {
      sent++;
      continue;
    }
    if (!CHECK(rc == LBC_ERR_WOULD_BLOCK, "send: %d (%s)", rc, lbc_strerror(rc))) break;
    would_blocks++;
    unsigned flags = wait_flags(cq, &tag, LBC_CALL_WRITABLE, 2000);
    if (!CHECK(flags & LBC_CALL_WRITABLE, "no LBC_CALL_WRITABLE within 2 s after message %ld", sent))
      break;
  }
  CHECK(sent == 100, "only %ld of 100 messages were accepted", sent);
  CHECK(would_blocks > 0, "a 0-byte send buffer never pushed back");
  CHECK_RC(lbc_call_close_send(call), LBC_OK);
  void *m = NULL;
  size_t len = 0;
  if (CHECK_RC(lbc_call_recv(call, TIMEOUT_MS, &m, &len), LBC_OK)) {
    uint64_t agg = 0;
    CHECK(pb_get_varint_field(m, len, 1, &agg) == 0 && agg == (uint64_t)(sent * 4000),
          "server got %llu payload bytes, expected %ld", (unsigned long long)agg, sent * 4000);
    lbc_free(m);
  }
  int status = -1;
  if (CHECK_RC(lbc_call_finish(call, TIMEOUT_MS, &status, NULL, NULL), LBC_OK))
    CHECK(status == LBC_STATUS_OK, "status %s", lbc_status_name(status));
  printf("    100 messages through a 0-byte send buffer, %ld WOULD_BLOCKs\n", would_blocks);
out:
  lbc_call_free(call);
  lbc_cq_free(cq);
  pb_buf_free(&msg);
  lbc_channel_close(ch);
}

/* ------------------------------------------------------------------------- */
/* (c) 1000 concurrent streams on one channel, driven from one thread         */
/* ------------------------------------------------------------------------- */

#define NSTREAMS 1000
#define PINGS 3

static void many_streams(void) {
  lbc_channel *ch = open_with(NULL, NULL, NULL, NULL);
  REQUIRE(ch, "open");
  lbc_cq *cq = NULL;
  REQUIRE(lbc_cq_new(&cq) == LBC_OK, "lbc_cq_new");
  cq_stream *s = calloc(NSTREAMS, sizeof *s);
  pb_buf *reqs = calloc(NSTREAMS * PINGS, sizeof *reqs);
  int32_t *sizes = calloc(NSTREAMS * PINGS, sizeof *sizes);
  char (*names)[16] = calloc(NSTREAMS, 16);
  REQUIRE(s && reqs && sizes && names, "calloc");
  for (int i = 0; i < NSTREAMS; i++) {
    for (int j = 0; j < PINGS; j++) {
      /* A size unique to (stream, ping): a response on the wrong stream shows. */
      sizes[i * PINGS + j] = 1 + i + NSTREAMS * j;
      pb_streaming_output_request(&reqs[i * PINGS + j], &sizes[i * PINGS + j], 1, 0, 16 + j, 0,
                                  NULL);
    }
    snprintf(names[i], 16, "stream %d", i);
    s[i].name = names[i];
    s[i].reqs = &reqs[i * PINGS];
    s[i].nreqs = PINGS;
    s[i].lockstep = 1;
    s[i].expect_sizes = &sizes[i * PINGS];
    s[i].nexpect = PINGS;
    s[i].expect_status = LBC_STATUS_OK;
  }
  double t0 = now_s();
  for (int i = 0; i < NSTREAMS; i++) cqs_start(&s[i], ch, M_FDX, NULL, TIMEOUT_MS, cq);
  double t_started = now_s();
  size_t left = cqs_run(cq, s, NSTREAMS, now_s() + 30);
  int ok = 0, failed = 0;
  for (int i = 0; i < NSTREAMS; i++) {
    if (s[i].finished && !s[i].failed) ok++;
    if (s[i].failed) failed++;
    if (s[i].call) {
      lbc_call_free(s[i].call);
      s[i].call = NULL;
    }
  }
  printf("    %d streams started in %.2f s; %d completed OK, %d failed, %zu unfinished after %.2f s\n",
         NSTREAMS, t_started - t0, ok, failed, left, now_s() - t0);
  CHECK(left == 0 && ok == NSTREAMS, "%d of %d streams completed OK (%zu unfinished)", ok, NSTREAMS,
        left);
  for (int i = 0; i < NSTREAMS * PINGS; i++) pb_buf_free(&reqs[i]);
  free(s);
  free(reqs);
  free(sizes);
  free(names);
  lbc_cq_free(cq);
  lbc_channel_close(ch);
}

/* ------------------------------------------------------------------------- */
/* (d) Cancellation from another thread                                       */
/* ------------------------------------------------------------------------- */

typedef struct {
  lbc_call *call;
  long delay_ms;
  int rc;
} canceller;

static void *cancel_later(void *arg) {
  canceller *c = arg;
  sleep_ms(c->delay_ms);
  c->rc = lbc_call_cancel(c->call);
  return NULL;
}

/* A blocking recv waits for a message that never comes; another thread cancels. */
static void cancel_blocked_recv(void) {
  lbc_channel *ch = open_with(NULL, NULL, NULL, NULL);
  REQUIRE(ch, "open");
  lbc_call *call = NULL;
  if (!CHECK_RC(lbc_call_start(ch, M_FDX, NULL, TIMEOUT_MS, NULL, NULL, &call), LBC_OK)) {
    lbc_channel_close(ch);
    return;
  }
  canceller c = {call, 300, -99};
  pthread_t th;
  double t0 = now_s();
  pthread_create(&th, NULL, cancel_later, &c);
  void *m = NULL;
  size_t len = 0;
  int rc = lbc_call_recv(call, -1, &m, &len);
  double waited = now_s() - t0;
  pthread_join(th, NULL);
  if (rc == LBC_OK) lbc_free(m);
  CHECK(rc == LBC_END, "blocked recv returned %d (%s), expected LBC_END", rc, lbc_strerror(rc));
  CHECK(waited >= 0.25 && waited < 1.3, "recv returned after %.2f s (cancel came at 0.3 s)", waited);
  CHECK(c.rc == LBC_OK, "lbc_call_cancel from another thread: %d", c.rc);
  int status = -1;
  const char *message = NULL;
  if (CHECK_RC(lbc_call_finish(call, 0, &status, &message, NULL), LBC_OK))
    CHECK(status == LBC_STATUS_CANCELLED, "status %s \"%s\", expected CANCELLED",
          lbc_status_name(status), message ? message : "");
  lbc_call_free(call);
  lbc_channel_close(ch);
}

/* A blocking send waits for room (the server does not read); another thread cancels. */
static void cancel_blocked_send(void) {
  lbc_channel *ch = open_with(NULL, NULL, NULL, NULL);
  REQUIRE(ch, "open");
  lbc_metadata *md = NULL;
  lbc_metadata_new(&md);
  lbc_metadata_add(md, "x-lbtest-sleep-before-read-ms", "10000", 5);
  lbc_call *call = NULL;
  int rc = lbc_call_start(ch, M_SIN, md, TIMEOUT_MS, NULL, NULL, &call);
  lbc_metadata_free(md);
  if (!CHECK(rc == LBC_OK, "lbc_call_start: %s", lbc_strerror(rc))) {
    lbc_channel_close(ch);
    return;
  }
  pb_buf msg = {0};
  pb_streaming_input_request(&msg, 64 * KiB);
  int n = 0;
  /* Fill until a send finds no room for 300 ms: flow control has stopped us. */
  while (n < 4096 && (rc = lbc_call_send(call, msg.data, msg.len, 0, 300)) == LBC_OK) n++;
  if (CHECK(rc == LBC_ERR_WOULD_BLOCK, "sends did not push back: %d after %d", rc, n)) {
    canceller c = {call, 300, -99};
    pthread_t th;
    double t0 = now_s();
    pthread_create(&th, NULL, cancel_later, &c);
    rc = lbc_call_send(call, msg.data, msg.len, 0, -1);
    double waited = now_s() - t0;
    pthread_join(th, NULL);
    CHECK(rc == LBC_ERR_CALL_FINISHED, "blocked send returned %d (%s), expected CALL_FINISHED", rc,
          lbc_strerror(rc));
    CHECK(waited >= 0.25 && waited < 1.3, "send returned after %.2f s (cancel came at 0.3 s)",
          waited);
    int status = -1;
    if (CHECK_RC(lbc_call_finish(call, 1000, &status, NULL, NULL), LBC_OK))
      CHECK(status == LBC_STATUS_CANCELLED, "status %s", lbc_status_name(status));
  }
  pb_buf_free(&msg);
  lbc_call_free(call);
  lbc_channel_close(ch);
}

/* lbc_call_free while other threads are blocked in lbc_call_recv, lbc_call_finish
 * and lbc_call_send on the same call: each wakes at once with LBC_ERR_CLOSED, and
 * the call's memory lives until the last of them has returned (TSan/ASan check that). */
typedef struct {
  lbc_call *call;
  int which; /* 0 recv, 1 finish, 2 send */
  const void *msg;
  size_t msg_len;
  int rc;
  double returned_at;
} blocked_op;

static void *run_blocked(void *arg) {
  blocked_op *op = arg;
  void *m = NULL;
  size_t len = 0;
  int status = -1;
  if (op->which == 0) {
    op->rc = lbc_call_recv(op->call, -1, &m, &len);
    if (op->rc == LBC_OK) lbc_free(m);
  } else if (op->which == 1) {
    op->rc = lbc_call_finish(op->call, -1, &status, NULL, NULL);
  } else {
    op->rc = lbc_call_send(op->call, op->msg, op->msg_len, 0, -1);
  }
  op->returned_at = now_s();
  return NULL;
}

static void free_while_blocked(void) {
  lbc_channel *ch = open_with(NULL, NULL, NULL, NULL);
  REQUIRE(ch, "open");
  lbc_call *reader = NULL, *writer = NULL;
  REQUIRE(lbc_call_start(ch, M_FDX, NULL, TIMEOUT_MS, NULL, NULL, &reader) == LBC_OK, "start reader");
  lbc_metadata *md = NULL;
  lbc_metadata_new(&md);
  lbc_metadata_add(md, "x-lbtest-sleep-before-read-ms", "10000", 5);
  int rc = lbc_call_start(ch, M_SIN, md, TIMEOUT_MS, NULL, NULL, &writer);
  lbc_metadata_free(md);
  REQUIRE(rc == LBC_OK, "start writer");
  pb_buf msg = {0};
  pb_streaming_input_request(&msg, 64 * KiB);
  int n = 0;
  while (n < 4096 && (rc = lbc_call_send(writer, msg.data, msg.len, 0, 300)) == LBC_OK) n++;
  CHECK(rc == LBC_ERR_WOULD_BLOCK, "sends did not push back: %d after %d", rc, n);
  blocked_op ops[4] = {{reader, 0, NULL, 0, -99, 0}, {reader, 1, NULL, 0, -99, 0},
                       {writer, 2, msg.data, msg.len, -99, 0}, {writer, 1, NULL, 0, -99, 0}};
  pthread_t th[4];
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, run_blocked, &ops[i]);
  sleep_ms(300);
  for (int i = 0; i < 4; i++) CHECK(ops[i].rc == -99, "op %d returned %d before the free", i, ops[i].rc);
  double t0 = now_s();
  lbc_call_free(reader);
  lbc_call_free(writer);
  double freed = now_s() - t0;
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  static const char *names[] = {"recv", "finish", "send", "finish"};
  for (int i = 0; i < 4; i++) {
    CHECK(ops[i].rc == LBC_ERR_CLOSED, "blocked %s returned %d (%s), expected LBC_ERR_CLOSED", names[i],
          ops[i].rc, lbc_strerror(ops[i].rc));
    CHECK(ops[i].returned_at - t0 < 1.0, "blocked %s returned %.2f s after the free", names[i],
          ops[i].returned_at - t0);
  }
  CHECK(freed < 1.0, "lbc_call_free took %.2f s", freed);
  pb_buf_free(&msg);
  lbc_channel_close(ch);
}

/* Calls on a queue polled by another thread are freed while their events flow: once
 * lbc_call_free has returned, no lbc_cq_poll that starts afterwards returns its tag. */
#define FREE_ROUNDS 30
typedef struct {
  lbc_cq *cq;
  int tags[FREE_ROUNDS];
  volatile int freed_upto; /* calls [0, freed_upto) have been freed (lbc_call_free returned) */
  volatile int stop;
  int late;     /* events of a call whose free returned before the poll started */
  long events;
} free_poller;

static void *poll_freed(void *arg) {
  free_poller *p = arg;
  while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
    int freed_before = __atomic_load_n(&p->freed_upto, __ATOMIC_ACQUIRE);
    lbc_event ev[16];
    int n = lbc_cq_poll(p->cq, ev, sizeof(lbc_event), 16, 20);
    for (int i = 0; i < n; i++) {
      int idx = (int)((int *)ev[i].tag - p->tags);
      p->events++;
      if (idx >= 0 && idx < freed_before) p->late++;
    }
  }
  return NULL;
}

static void free_with_concurrent_poll(void) {
  lbc_channel *ch = open_with(NULL, NULL, NULL, NULL);
  REQUIRE(ch, "open");
  static free_poller p;
  memset(&p, 0, sizeof p);
  REQUIRE(lbc_cq_new(&p.cq) == LBC_OK, "lbc_cq_new");
  pthread_t th;
  pthread_create(&th, NULL, poll_freed, &p);
  int32_t sizes[400];
  for (int i = 0; i < 400; i++) sizes[i] = 10;
  pb_buf req = {0};
  pb_streaming_output_request(&req, sizes, 400, 500, -1, 0, NULL);
  for (int r = 0; r < FREE_ROUNDS; r++) {
    lbc_call *call = NULL;
    if (!CHECK_RC(lbc_call_start(ch, M_FDX, NULL, TIMEOUT_MS, p.cq, &p.tags[r], &call), LBC_OK)) break;
    CHECK_RC(lbc_call_send(call, req.data, req.len, LBC_SEND_END, 1000), LBC_OK);
    sleep_ms(5 + r % 7 * 5);
    lbc_call_free(call);
    __atomic_store_n(&p.freed_upto, r + 1, __ATOMIC_RELEASE);
  }
  sleep_ms(100);
  __atomic_store_n(&p.stop, 1, __ATOMIC_RELEASE);
  pthread_join(th, NULL);
  printf("    %d calls freed while polled: %ld events\n", FREE_ROUNDS, p.events);
  CHECK(p.events > 0, "no event at all: the calls never ran");
  CHECK(p.late == 0, "%d events of calls freed before the poll started", p.late);
  pb_buf_free(&req);
  lbc_cq_free(p.cq);
  lbc_channel_close(ch);
}

/* ------------------------------------------------------------------------- */
/* (e) Bad input and the edges of the contract                                */
/* ------------------------------------------------------------------------- */

static void bad_input(void) {
  lbc_channel *ch = open_with("max_send_message_size", "1000", NULL, NULL);
  REQUIRE(ch, "open");
  lbc_call *call = NULL;
  void *m = NULL;
  size_t len = 0;
  const lbc_metadata *md = NULL;
  lbc_event ev[2];
  lbc_cq *cq = NULL;

  CHECK_RC(lbc_call_start(NULL, M_FDX, NULL, -1, NULL, NULL, &call), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_call_start(ch, NULL, NULL, -1, NULL, NULL, &call), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_call_start(ch, "grpc.testing.TestService/FullDuplexCall", NULL, -1, NULL, NULL,
                          &call),
           LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_call_start(ch, M_FDX, NULL, -1, NULL, NULL, NULL), LBC_ERR_INVALID_ARGUMENT);
  CHECK(call == NULL, "a failed lbc_call_start wrote its out-parameter");

  CHECK_RC(lbc_call_send(NULL, "x", 1, 0, 0), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_call_close_send(NULL), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_call_recv(NULL, 0, &m, &len), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_call_headers(NULL, 0, &md), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_call_finish(NULL, 0, NULL, NULL, NULL), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_call_cancel(NULL), LBC_ERR_INVALID_ARGUMENT);
  lbc_call_free(NULL);
  CHECK(lbc_call_peer(NULL) != NULL, "lbc_call_peer(NULL) returned NULL");

  CHECK_RC(lbc_cq_new(NULL), LBC_ERR_INVALID_ARGUMENT);
  CHECK(lbc_cq_fd(NULL) == -1, "lbc_cq_fd(NULL) = %d", lbc_cq_fd(NULL));
  CHECK_RC(lbc_cq_poll(NULL, ev, sizeof(lbc_event), 2, 0), LBC_ERR_INVALID_ARGUMENT);
  lbc_cq_free(NULL);
  if (CHECK_RC(lbc_cq_new(&cq), LBC_OK)) {
    CHECK_RC(lbc_cq_poll(cq, NULL, sizeof(lbc_event), 2, 0), LBC_ERR_INVALID_ARGUMENT);
    CHECK_RC(lbc_cq_poll(cq, ev, sizeof(lbc_event), 0, 0), LBC_ERR_INVALID_ARGUMENT);
    CHECK_RC(lbc_cq_poll(cq, ev, sizeof(lbc_event), -1, 0), LBC_ERR_INVALID_ARGUMENT);
    CHECK_RC(lbc_cq_poll(cq, ev, 0, 2, 0), LBC_ERR_INVALID_ARGUMENT);
    CHECK_RC(lbc_cq_poll(cq, ev, LBC_EVENT_MIN_SIZE - sizeof(void *), 2, 0), LBC_ERR_INVALID_ARGUMENT);
    CHECK_RC(lbc_cq_poll(cq, ev, sizeof(lbc_event) + 1, 1, 0), LBC_ERR_INVALID_ARGUMENT);
    CHECK(strstr(lbc_last_errmsg(), "event_size") != NULL, "message: %s", lbc_last_errmsg());
    CHECK_RC(lbc_cq_poll(cq, ev, sizeof(lbc_event), 2, 0), 0); /* nothing pending */
    double t0 = now_s();
    CHECK_RC(lbc_cq_poll(cq, ev, sizeof(lbc_event), 2, 100), 0);
    CHECK(now_s() - t0 >= 0.09, "lbc_cq_poll(timeout 100) returned after %.3f s", now_s() - t0);
    CHECK_RC(lbc_unary_async(NULL, M_EMPTY, NULL, 0, NULL, -1, cq, NULL, NULL), LBC_ERR_INVALID_ARGUMENT);
    CHECK_RC(lbc_unary_async(ch, NULL, NULL, 0, NULL, -1, cq, NULL, NULL), LBC_ERR_INVALID_ARGUMENT);
    CHECK_RC(lbc_unary_async(ch, M_EMPTY, NULL, 0, NULL, -1, NULL, NULL, NULL), LBC_ERR_INVALID_ARGUMENT);
    CHECK_RC(lbc_unary_async(ch, M_EMPTY, NULL, 5, NULL, -1, cq, NULL, NULL), LBC_ERR_INVALID_ARGUMENT);
    CHECK_RC(lbc_cq_poll(cq, ev, sizeof(lbc_event), 2, 200), 0); /* failed starts queue no event */
    lbc_cq_free(cq);
  }

  /* A live call that nothing happens on: every timeout-0 operation would block. */
  if (CHECK_RC(lbc_call_start(ch, M_FDX, NULL, TIMEOUT_MS, NULL, NULL, &call), LBC_OK)) {
    CHECK_RC(lbc_call_recv(call, 0, NULL, &len), LBC_ERR_INVALID_ARGUMENT);
    CHECK_RC(lbc_call_recv(call, 0, &m, NULL), LBC_ERR_INVALID_ARGUMENT);
    CHECK_RC(lbc_call_headers(call, 0, NULL), LBC_ERR_INVALID_ARGUMENT);
    CHECK_RC(lbc_call_send(call, NULL, 5, 0, 0), LBC_ERR_INVALID_ARGUMENT);
    CHECK_RC(lbc_call_recv(call, 0, &m, &len), LBC_ERR_WOULD_BLOCK);
    double t0 = now_s();
    CHECK_RC(lbc_call_recv(call, 100, &m, &len), LBC_ERR_WOULD_BLOCK);
    double waited = now_s() - t0;
    CHECK(waited >= 0.09 && waited < 2, "recv(timeout 100) returned after %.3f s", waited);
    CHECK_RC(lbc_call_headers(call, 0, &md), LBC_ERR_WOULD_BLOCK);
    CHECK_RC(lbc_call_finish(call, 0, NULL, NULL, NULL), LBC_ERR_WOULD_BLOCK);
    char big[2000];
    memset(big, 0, sizeof big);
    CHECK_RC(lbc_call_send(call, big, sizeof big, 0, 0), LBC_ERR_MESSAGE_TOO_LARGE);
    /* Still usable after the refused send: a ping-pong. */
    pb_buf req = {0};
    int32_t size = 7;
    pb_streaming_output_request(&req, &size, 1, 0, 3, 0, NULL);
    CHECK_RC(lbc_call_send(call, req.data, req.len, LBC_SEND_END, 0), LBC_OK);
    CHECK_RC(lbc_call_send(call, req.data, req.len, 0, 0), LBC_ERR_SEND_CLOSED);
    CHECK_RC(lbc_call_close_send(call), LBC_OK); /* already closed: fine */
    if (CHECK_RC(lbc_call_recv(call, TIMEOUT_MS, &m, &len), LBC_OK)) {
      size_t blen = 99;
      pb_get_payload_body(m, len, 1, NULL, &blen, NULL);
      CHECK(blen == 7, "payload of %zu bytes, expected 7", blen);
      lbc_free(m);
    }
    CHECK_RC(lbc_call_recv(call, TIMEOUT_MS, &m, &len), LBC_END);
    CHECK_RC(lbc_call_finish(call, TIMEOUT_MS, NULL, NULL, NULL), LBC_OK);
    /* Closed and finished: SEND_CLOSED takes precedence (lbchannel.h, lbc_call_send). */
    CHECK_RC(lbc_call_send(call, req.data, req.len, 0, 0), LBC_ERR_SEND_CLOSED);
    pb_buf_free(&req);
    lbc_call_free(call);
    call = NULL;
  }

  /* close_send, then send: SEND_CLOSED; the call still ends OK. */
  if (CHECK_RC(lbc_call_start(ch, M_FDX, NULL, TIMEOUT_MS, NULL, NULL, &call), LBC_OK)) {
    CHECK_RC(lbc_call_close_send(call), LBC_OK);
    CHECK_RC(lbc_call_send(call, "", 0, 0, 0), LBC_ERR_SEND_CLOSED);
    CHECK_RC(lbc_call_recv(call, TIMEOUT_MS, &m, &len), LBC_END);
    int status = -1;
    CHECK_RC(lbc_call_finish(call, TIMEOUT_MS, &status, NULL, NULL), LBC_OK);
    CHECK(status == LBC_STATUS_OK, "status %s", lbc_status_name(status));
    lbc_call_free(call);
    call = NULL;
  }

  /* The server ends the call (status echo) while the send side is open: CALL_FINISHED. */
  if (CHECK_RC(lbc_call_start(ch, M_FDX, NULL, TIMEOUT_MS, NULL, NULL, &call), LBC_OK)) {
    pb_buf req = {0};
    pb_streaming_output_request(&req, NULL, 0, 0, -1, 9, "stop");
    CHECK_RC(lbc_call_send(call, req.data, req.len, 0, TIMEOUT_MS), LBC_OK);
    int status = -1;
    const char *message = NULL;
    CHECK_RC(lbc_call_finish(call, TIMEOUT_MS, &status, &message, NULL), LBC_OK);
    CHECK(status == LBC_STATUS_FAILED_PRECONDITION && message && strcmp(message, "stop") == 0,
          "ended with %s \"%s\"", lbc_status_name(status), message ? message : "(null)");
    CHECK_RC(lbc_call_send(call, req.data, req.len, 0, 0), LBC_ERR_CALL_FINISHED);
    CHECK_RC(lbc_call_send(call, req.data, req.len, 0, -1), LBC_ERR_CALL_FINISHED);
    CHECK_RC(lbc_call_recv(call, 0, &m, &len), LBC_END);
    CHECK_RC(lbc_call_close_send(call), LBC_OK);
    CHECK_RC(lbc_call_cancel(call), LBC_OK);
    /* Cancel after the end changes nothing. */
    CHECK_RC(lbc_call_finish(call, 0, &status, NULL, NULL), LBC_OK);
    CHECK(status == LBC_STATUS_FAILED_PRECONDITION, "status after cancel-after-end: %s",
          lbc_status_name(status));
    pb_buf_free(&req);
    lbc_call_free(call);
    call = NULL;
  }

  /* A deadline ends a call nobody reads. */
  if (CHECK_RC(lbc_call_start(ch, M_FDX, NULL, 200, NULL, NULL, &call), LBC_OK)) {
    int status = -1;
    double t0 = now_s();
    CHECK_RC(lbc_call_finish(call, 5000, &status, NULL, NULL), LBC_OK);
    CHECK(status == LBC_STATUS_DEADLINE_EXCEEDED, "status %s", lbc_status_name(status));
    CHECK(now_s() - t0 < 2, "a 200 ms deadline ended the call after %.2f s", now_s() - t0);
    CHECK_RC(lbc_call_send(call, "", 0, 0, 0), LBC_ERR_CALL_FINISHED);
    lbc_call_free(call);
    call = NULL;
  }

  /* Free a live call (it is cancelled), and a call on a closed channel. */
  if (CHECK_RC(lbc_call_start(ch, M_FDX, NULL, TIMEOUT_MS, NULL, NULL, &call), LBC_OK))
    lbc_call_free(call);
  call = NULL;
  lbc_channel_close(ch);
  CHECK_RC(lbc_call_start(ch, M_FDX, NULL, -1, NULL, NULL, &call), LBC_ERR_CLOSED);
}

/* A call whose cq is freed keeps working through the blocking functions. */
static void cq_freed_before_call(void) {
  lbc_channel *ch = open_with(NULL, NULL, NULL, NULL);
  REQUIRE(ch, "open");
  lbc_cq *cq = NULL;
  lbc_call *call = NULL;
  REQUIRE(lbc_cq_new(&cq) == LBC_OK, "lbc_cq_new");
  if (!CHECK_RC(lbc_call_start(ch, M_FDX, NULL, TIMEOUT_MS, cq, NULL, &call), LBC_OK)) {
    lbc_cq_free(cq);
    lbc_channel_close(ch);
    return;
  }
  lbc_cq_free(cq);
  pb_buf req = {0};
  int32_t size = 1234;
  pb_streaming_output_request(&req, &size, 1, 0, 10, 0, NULL);
  CHECK_RC(lbc_call_send(call, req.data, req.len, LBC_SEND_END, TIMEOUT_MS), LBC_OK);
  pb_buf_free(&req);
  void *m = NULL;
  size_t len = 0;
  if (CHECK_RC(lbc_call_recv(call, TIMEOUT_MS, &m, &len), LBC_OK)) {
    size_t blen = 0;
    pb_get_payload_body(m, len, 1, NULL, &blen, NULL);
    CHECK(blen == 1234, "payload %zu bytes", blen);
    lbc_free(m);
  }
  CHECK_RC(lbc_call_recv(call, TIMEOUT_MS, &m, &len), LBC_END);
  int status = -1;
  CHECK_RC(lbc_call_finish(call, TIMEOUT_MS, &status, NULL, NULL), LBC_OK);
  CHECK(status == LBC_STATUS_OK, "status %s", lbc_status_name(status));
  lbc_call_free(call);
  lbc_channel_close(ch);
}

/* ------------------------------------------------------------------------- */
/* lbc_unary_async on a completion queue; lbc_cq_fd with poll(2)             */
/* ------------------------------------------------------------------------- */

#define NASYNC 1000

static void unary_async_many(void) {
  lbc_channel *ch = open_with(NULL, NULL, NULL, NULL);
  REQUIRE(ch, "open");
  lbc_cq *cq = NULL;
  REQUIRE(lbc_cq_new(&cq) == LBC_OK, "lbc_cq_new");
  static int tags[NASYNC];
  static unsigned char seen[NASYNC];
  int started = 0, done = 0, ok = 0;
  memset(seen, 0, sizeof seen);
  double t0 = now_s();
  for (int i = 0; i < NASYNC; i++) {
    pb_buf req = {0};
    tags[i] = i;
    pb_simple_request(&req, i, i % 50, 0, NULL); /* response_size = i: checks the pairing */
    int rc = lbc_unary_async(ch, M_UNARY, req.data, req.len, NULL, TIMEOUT_MS, cq, &tags[i], NULL);
    pb_buf_free(&req);
    if (!CHECK(rc == LBC_OK, "lbc_unary_async %d: %d (%s)", i, rc, lbc_strerror(rc))) break;
    started++;
  }
  double deadline = now_s() + 30;
  while (done < started && now_s() < deadline) {
    lbc_event ev[64];
    int n = lbc_cq_poll(cq, ev, sizeof(lbc_event), 64, 100);
    if (!CHECK(n >= 0, "lbc_cq_poll: %d", n)) break;
    for (int i = 0; i < n; i++) {
      int *t = ev[i].tag;
      if (!CHECK(ev[i].kind == LBC_EVENT_UNARY && ev[i].response && t >= tags && t < tags + NASYNC,
                 "event kind %d tag %p response %p", ev[i].kind, ev[i].tag, (void *)ev[i].response))
        continue;
      CHECK(!seen[*t], "a second event for call %d", *t);
      seen[*t] = 1;
      done++;
      lbc_response *r = ev[i].response;
      size_t len = 0, blen = 0;
      int zero = 0;
      const uint8_t *data = lbc_response_data(r, &len);
      if (lbc_response_status(r) == LBC_STATUS_OK &&
          pb_get_payload_body(data, len, 1, NULL, &blen, &zero) == 0 && blen == (size_t)*t && zero)
        ok++;
      else
        CHECK(0, "call %d: %s \"%s\", payload %zu bytes", *t, lbc_status_name(lbc_response_status(r)),
              lbc_response_message(r), blen);
      lbc_response_free(r);
    }
  }
  printf("    %d async unary calls: %d results, %d OK in %.2f s\n", started, done, ok, now_s() - t0);
  CHECK(started == NASYNC && done == NASYNC && ok == NASYNC, "%d started, %d results, %d OK", started,
        done, ok);
  CHECK_RC(lbc_cq_poll(cq, (lbc_event[1]){{0}}, sizeof(lbc_event), 1, 100), 0); /* exactly one event per call */
  lbc_cq_free(cq);
  lbc_channel_close(ch);
}

/* lbc_cq_free while another thread waits forever in lbc_cq_poll: the poll returns
 * LBC_ERR_CLOSED at once instead of hanging (or touching freed memory). */
typedef struct {
  lbc_cq *cq;
  int rc;
  double returned_at;
} cq_waiter;

static void *wait_on_cq(void *arg) {
  cq_waiter *w = arg;
  lbc_event ev;
  w->rc = lbc_cq_poll(w->cq, &ev, sizeof ev, 1, -1);
  w->returned_at = now_s();
  return NULL;
}

static void cq_free_wakes_poll(void) {
  cq_waiter w = {NULL, -99, 0};
  REQUIRE(lbc_cq_new(&w.cq) == LBC_OK, "lbc_cq_new");
  pthread_t th;
  pthread_create(&th, NULL, wait_on_cq, &w);
  sleep_ms(200);
  CHECK(w.rc == -99, "lbc_cq_poll(-1) returned %d with nothing posted", w.rc);
  double t0 = now_s();
  lbc_cq_free(w.cq);
  pthread_join(th, NULL);
  CHECK(w.rc == LBC_ERR_CLOSED, "the waiting poll returned %d (%s), expected LBC_ERR_CLOSED", w.rc,
        lbc_strerror(w.rc));
  CHECK(w.returned_at - t0 < 1.0, "the waiting poll returned %.2f s after lbc_cq_free", w.returned_at - t0);
}

/* A program built against a newer header whose lbc_event has more fields: the library
 * steps through the array by the caller's event_size, fills the fields it knows and
 * zeroes the rest of each slot it fills; slots it does not fill are untouched. */
typedef struct future_event {
  lbc_event v1;
  void *added_pointer;
  uint64_t added_counter;
} future_event;

static void extensible_events(void) {
  lbc_channel *ch = open_with(NULL, NULL, NULL, NULL);
  REQUIRE(ch, "open");
  lbc_cq *cq = NULL;
  REQUIRE(lbc_cq_new(&cq) == LBC_OK, "lbc_cq_new");
  int tags[2];
  for (int i = 0; i < 2; i++) CHECK_RC(lbc_unary_async(ch, M_EMPTY, NULL, 0, NULL, TIMEOUT_MS, cq, &tags[i], NULL), LBC_OK);
  future_event ev[3];
  memset(ev, 0xA5, sizeof ev);
  int got = 0;
  double deadline = now_s() + 10;
  while (got < 2 && now_s() < deadline) {
    int n = lbc_cq_poll(cq, &ev[got].v1, sizeof(future_event), 2 - got, 100);
    if (!CHECK(n >= 0, "lbc_cq_poll: %d (%s)", n, lbc_last_errmsg())) break;
    got += n;
  }
  CHECK(got == 2, "%d events", got);
  for (int i = 0; i < got; i++) {
    CHECK(ev[i].v1.kind == LBC_EVENT_UNARY && ev[i].v1.flags == 0 && ev[i].v1.response != NULL &&
              (ev[i].v1.tag == &tags[0] || ev[i].v1.tag == &tags[1]),
          "event %d: kind %d flags %u tag %p", i, ev[i].v1.kind, ev[i].v1.flags, ev[i].v1.tag);
    CHECK(ev[i].added_pointer == NULL && ev[i].added_counter == 0, "event %d: unknown fields not zeroed", i);
    if (ev[i].v1.response) {
      CHECK(lbc_response_status(ev[i].v1.response) == LBC_STATUS_OK, "status %d", lbc_response_status(ev[i].v1.response));
      lbc_response_free(ev[i].v1.response);
    }
  }
  CHECK(got < 2 || ev[0].v1.tag != ev[1].v1.tag, "the same tag twice");
  unsigned char untouched[sizeof(future_event)];
  memset(untouched, 0xA5, sizeof untouched);
  CHECK(memcmp(&ev[2], untouched, sizeof untouched) == 0, "a slot beyond the count was written");
  lbc_cq_free(cq);
  lbc_channel_close(ch);
}

static int fd_readable(int fd, int timeout_ms) {
  struct pollfd p = {fd, POLLIN, 0};
  int n = poll(&p, 1, timeout_ms);
  return n == 1 && (p.revents & POLLIN);
}

static void cq_fd_poll(void) {
  lbc_channel *ch = open_with(NULL, NULL, NULL, NULL);
  REQUIRE(ch, "open");
  lbc_cq *cq = NULL;
  REQUIRE(lbc_cq_new(&cq) == LBC_OK, "lbc_cq_new");
  int fd = lbc_cq_fd(cq);
  REQUIRE(fd >= 0, "lbc_cq_fd = %d", fd);
  CHECK(!fd_readable(fd, 0), "the fd of an empty queue is readable");
  for (int round = 0; round < 3; round++) {
    lbc_event ev[4];
    int tag = round;
    CHECK_RC(lbc_unary_async(ch, M_EMPTY, NULL, 0, NULL, TIMEOUT_MS, cq, &tag, NULL), LBC_OK);
    if (!CHECK(fd_readable(fd, 10000), "round %d: the fd did not become readable", round)) break;
    int n = lbc_cq_poll(cq, ev, sizeof(lbc_event), 4, 0);
    CHECK(n == 1 && ev[0].tag == &tag && ev[0].kind == LBC_EVENT_UNARY,
          "round %d: lbc_cq_poll(timeout 0) = %d after the fd was readable", round, n);
    for (int i = 0; i < n; i++) {
      CHECK(lbc_response_status(ev[i].response) == LBC_STATUS_OK, "status %s",
            lbc_status_name(lbc_response_status(ev[i].response)));
      lbc_response_free(ev[i].response);
    }
    CHECK_RC(lbc_cq_poll(cq, ev, sizeof(lbc_event), 4, 0), 0);
    CHECK(!fd_readable(fd, 0), "round %d: the fd stays readable after the queue was drained",
          round);
  }
  /* Streaming calls signal the fd too: a server stream of 3 messages. */
  {
    lbc_call *call = NULL;
    int tag = 42, got = 0, done = 0, ended = 0;
    pb_buf req = {0};
    int32_t sizes[3] = {1, 2, 3};
    pb_streaming_output_request(&req, sizes, 3, 10000, -1, 0, NULL);
    if (CHECK_RC(lbc_call_start(ch, M_SOUT, NULL, TIMEOUT_MS, cq, &tag, &call), LBC_OK)) {
      CHECK_RC(lbc_call_send(call, req.data, req.len, LBC_SEND_END, 0), LBC_OK);
      double deadline = now_s() + 10;
      while (!(done && ended) && now_s() < deadline) {
        if (!fd_readable(fd, 1000)) continue;
        lbc_event ev[4];
        int n;
        while ((n = lbc_cq_poll(cq, ev, sizeof(lbc_event), 4, 0)) > 0) {
          for (int i = 0; i < n; i++) {
            CHECK(ev[i].tag == &tag && ev[i].kind == LBC_EVENT_CALL, "unexpected event");
            if (ev[i].flags & LBC_CALL_DONE) done = 1;
          }
          for (;;) {
            void *m = NULL;
            size_t len = 0;
            int rc = lbc_call_recv(call, 0, &m, &len);
            if (rc == LBC_OK) {
              got++;
              lbc_free(m);
              continue;
            }
            if (rc == LBC_END) ended = 1;
            break;
          }
        }
      }
      CHECK(got == 3 && done && ended, "fd-driven stream: %d messages, done %d, ended %d", got, done,
            ended);
      lbc_call_free(call);
    }
    pb_buf_free(&req);
  }
  lbc_cq_free(cq);
  lbc_channel_close(ch);
}

/* lbc_unary_cancel: an async unary call to FullDuplexCall whose one response comes
 * after 5 s is cancelled after 100 ms; its event arrives at once with CANCELLED.
 * A second call with another tag on the same queue is not affected. */
static void unary_async_cancel(void) {
  lbc_channel *ch = open_with(NULL, NULL, NULL, NULL);
  REQUIRE(ch, "open");
  lbc_cq *cq = NULL;
  REQUIRE(lbc_cq_new(&cq) == LBC_OK, "lbc_cq_new");
  pb_buf slow = {0};
  int32_t one = 1;
  pb_streaming_output_request(&slow, &one, 1, 5000000, -1, 0, NULL);
  int slow_tag = 1, fast_tag = 2;
  CHECK_RC(lbc_unary_cancel(NULL, &slow_tag), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_unary_cancel(cq, &slow_tag), LBC_OK); /* nothing in flight: no effect */
  CHECK_RC(lbc_unary_async(ch, M_FDX, slow.data, slow.len, NULL, TIMEOUT_MS, cq, &slow_tag, NULL), LBC_OK);
  CHECK_RC(lbc_unary_async(ch, M_EMPTY, NULL, 0, NULL, TIMEOUT_MS, cq, &fast_tag, NULL), LBC_OK);
  lbc_event ev[2];
  int n = lbc_cq_poll(cq, ev, sizeof(lbc_event), 1, TIMEOUT_MS);
  CHECK(n == 1 && ev[0].tag == &fast_tag, "the uncancelled call did not complete first (n=%d)", n);
  if (n == 1) {
    CHECK(lbc_response_status(ev[0].response) == LBC_STATUS_OK, "fast call: %s",
          lbc_status_name(lbc_response_status(ev[0].response)));
    lbc_response_free(ev[0].response);
  }
  sleep_ms(100);
  double t0 = now_s();
  CHECK_RC(lbc_unary_cancel(cq, &slow_tag), LBC_OK);
  n = lbc_cq_poll(cq, ev, sizeof(lbc_event), 2, 3000);
  double took = now_s() - t0;
  CHECK(n == 1 && ev[0].tag == &slow_tag, "no event for the cancelled call within 3 s (n=%d)", n);
  if (n == 1) {
    CHECK(lbc_response_status(ev[0].response) == LBC_STATUS_CANCELLED, "cancelled call ended %s (%s)",
          lbc_status_name(lbc_response_status(ev[0].response)), lbc_response_message(ev[0].response));
    CHECK(took < 1.0, "the cancelled call's event took %.2f s", took);
    lbc_response_free(ev[0].response);
  }
  CHECK_RC(lbc_unary_cancel(cq, &slow_tag), LBC_OK); /* again, after the end: no effect */
  CHECK_RC(lbc_cq_poll(cq, ev, sizeof(lbc_event), 2, 200), 0);          /* and no second event */
  pb_buf_free(&slow);
  lbc_cq_free(cq);
  lbc_channel_close(ch);
}

/* lbc_unary_call_cancel: two slow async unary calls share one tag; cancelling
 * the OLDER one by its handle ends exactly it (cancel-by-tag could only reach the
 * newer one), the other goes on until cancelled in turn. A handle freed at once
 * leaves its call running: its one event still arrives with the result. */
static int poll_one(lbc_cq *cq, lbc_event *ev, int timeout_ms) {
  int n = lbc_cq_poll(cq, ev, sizeof(lbc_event), 1, timeout_ms);
  return n;
}

static void unary_async_cancel_by_handle(void) {
  lbc_channel *ch = open_with(NULL, NULL, NULL, NULL);
  REQUIRE(ch, "open");
  lbc_cq *cq = NULL;
  REQUIRE(lbc_cq_new(&cq) == LBC_OK, "lbc_cq_new");
  CHECK_RC(lbc_unary_call_cancel(NULL), LBC_ERR_INVALID_ARGUMENT);
  lbc_unary_call_free(NULL);
  pb_buf slow = {0};
  int32_t one = 1;
  pb_streaming_output_request(&slow, &one, 1, 5000000, -1, 0, NULL);
  int shared_tag = 7, fast_tag = 8;
  lbc_unary_call *older = NULL, *newer = NULL, *fast = NULL;
  CHECK_RC(lbc_unary_async(ch, M_FDX, slow.data, slow.len, NULL, TIMEOUT_MS, cq, &shared_tag, &older), LBC_OK);
  CHECK_RC(lbc_unary_async(ch, M_FDX, slow.data, slow.len, NULL, TIMEOUT_MS, cq, &shared_tag, &newer), LBC_OK);
  CHECK_RC(lbc_unary_async(ch, M_EMPTY, NULL, 0, NULL, TIMEOUT_MS, cq, &fast_tag, &fast), LBC_OK);
  REQUIRE(older && newer && fast && older != newer, "handles %p %p %p", (void *)older, (void *)newer, (void *)fast);
  lbc_unary_call_free(fast); /* the handle only: the call runs on */
  lbc_event ev;
  int n = poll_one(cq, &ev, TIMEOUT_MS);
  if (CHECK(n == 1 && ev.tag == &fast_tag, "the call whose handle was freed did not complete (n=%d)", n)) {
    CHECK(lbc_response_status(ev.response) == LBC_STATUS_OK, "fast call: %s",
          lbc_status_name(lbc_response_status(ev.response)));
    lbc_response_free(ev.response);
  }
  sleep_ms(100);
  double t0 = now_s();
  CHECK_RC(lbc_unary_call_cancel(older), LBC_OK);
  lbc_unary_call_free(older); /* before its event: the event still comes */
  n = poll_one(cq, &ev, 3000);
  if (CHECK(n == 1 && ev.tag == &shared_tag, "no event for the cancelled older call (n=%d)", n)) {
    CHECK(lbc_response_status(ev.response) == LBC_STATUS_CANCELLED, "older call ended %s",
          lbc_status_name(lbc_response_status(ev.response)));
    CHECK(now_s() - t0 < 1.0, "the cancel took %.2f s", now_s() - t0);
    lbc_response_free(ev.response);
  }
  CHECK_RC(poll_one(cq, &ev, 300), 0); /* the newer call with the same tag runs on */
  CHECK_RC(lbc_unary_call_cancel(newer), LBC_OK);
  n = poll_one(cq, &ev, 3000);
  if (CHECK(n == 1 && ev.tag == &shared_tag, "no event for the cancelled newer call (n=%d)", n)) {
    CHECK(lbc_response_status(ev.response) == LBC_STATUS_CANCELLED, "newer call ended %s",
          lbc_status_name(lbc_response_status(ev.response)));
    lbc_response_free(ev.response);
  }
  CHECK_RC(lbc_unary_call_cancel(newer), LBC_OK); /* after the end: no effect */
  CHECK_RC(poll_one(cq, &ev, 200), 0);             /* and exactly one event per call */
  lbc_unary_call_free(newer);
  pb_buf_free(&slow);
  lbc_cq_free(cq);
  lbc_channel_close(ch);
}

/* ------------------------------------------------------------------------- */

/* ------------------------------------------------------------------------- */
/* lbc_call_recv_into: a size probe, then the message into the caller's buffer */
/* ------------------------------------------------------------------------- */

static void recv_into(void) {
  lbc_channel *ch = open_with(NULL, NULL, NULL, NULL);
  REQUIRE(ch, "open");
  lbc_call *call = NULL;
  if (!CHECK_RC(lbc_call_start(ch, M_SOUT, NULL, TIMEOUT_MS, NULL, NULL, &call), LBC_OK)) {
    lbc_channel_close(ch);
    return;
  }
  /* Two responses (100 000 and 10 payload bytes) and the end of the stream. */
  const int32_t sizes[] = {100000, 10};
  pb_buf req = {0};
  pb_streaming_output_request(&req, sizes, 2, 0, 0, 0, NULL);
  CHECK_RC(lbc_call_send(call, req.data, req.len, LBC_SEND_END, TIMEOUT_MS), LBC_OK);
  pb_buf_free(&req);
  size_t len = 0, bad_len = 0;
  CHECK_RC(lbc_call_recv_into(NULL, 0, NULL, 0, &len), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_call_recv_into(call, 0, NULL, 0, NULL), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_call_recv_into(call, 0, NULL, 16, &len), LBC_ERR_INVALID_ARGUMENT);
  /* Probe: waits for the first message and tells its size without taking it. */
  if (CHECK_RC(lbc_call_recv_into(call, TIMEOUT_MS, NULL, 0, &len), LBC_ERR_OUT_OF_RANGE)) {
    CHECK(len > 100000 && len < 100010, "probe said %zu bytes for a 100000-byte payload", len);
    char small[64];
    CHECK_RC(lbc_call_recv_into(call, 0, small, sizeof small, &bad_len), LBC_ERR_OUT_OF_RANGE);
    CHECK(bad_len == len, "a second probe said %zu, the first %zu", bad_len, len);
    unsigned char *buf = malloc(len + 7);
    REQUIRE(buf, "malloc");
    memset(buf, 0xAB, len + 7);
    size_t got = 0;
    if (CHECK_RC(lbc_call_recv_into(call, 0, buf, len + 7, &got), LBC_OK)) {
      CHECK(got == len, "took %zu bytes, the probe said %zu", got, len);
      size_t blen = 0;
      int zero = 0;
      CHECK(pb_get_payload_body(buf, got, 1, NULL, &blen, &zero) == 0 && blen == 100000 && zero,
            "the message in the buffer is not the 100000-byte payload");
      CHECK(buf[got] == 0xAB, "wrote past the message");
    }
    free(buf);
  }
  /* The second message fits a buffer of exactly its size; then the end. */
  unsigned char second[64];
  if (CHECK_RC(lbc_call_recv_into(call, TIMEOUT_MS, second, sizeof second, &len), LBC_OK)) {
    size_t blen = 0;
    int zero = 0;
    CHECK(pb_get_payload_body(second, len, 1, NULL, &blen, &zero) == 0 && blen == 10,
          "second message: %zu bytes, payload %zu", len, blen);
  }
  CHECK_RC(lbc_call_recv_into(call, TIMEOUT_MS, second, sizeof second, &len), LBC_END);
  int status = -1;
  if (CHECK_RC(lbc_call_finish(call, TIMEOUT_MS, &status, NULL, NULL), LBC_OK))
    CHECK(status == LBC_STATUS_OK, "status %s", lbc_status_name(status));
  lbc_call_free(call);
  lbc_channel_close(ch);
}

/* lbc_call_set_events: with 0, a call's queue gets its LBC_CALL_DONE event only (no
 * READABLE / HEADERS / WRITABLE while messages flow); bad arguments are refused. */
static void set_events_done_only(void) {
  lbc_channel *ch = open_with(NULL, NULL, NULL, NULL);
  REQUIRE(ch, "open");
  lbc_cq *cq = NULL;
  REQUIRE(lbc_cq_new(&cq) == LBC_OK, "lbc_cq_new");
  CHECK_RC(lbc_call_set_events(NULL, 0), LBC_ERR_INVALID_ARGUMENT);
  lbc_call *call = NULL;
  int tag = 7;
  if (!CHECK_RC(lbc_call_start(ch, M_SOUT, NULL, TIMEOUT_MS, cq, &tag, &call), LBC_OK)) goto out;
  CHECK_RC(lbc_call_set_events(call, 0x10), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_call_set_events(call, 0), LBC_OK);
  int32_t sizes[3] = {10, 20000, 30};
  pb_buf req = {0};
  pb_streaming_output_request(&req, sizes, 3, 0, 0, 0, NULL);
  CHECK_RC(lbc_call_send(call, req.data, req.len, LBC_SEND_END, TIMEOUT_MS), LBC_OK);
  pb_buf_free(&req);
  int messages = 0;
  void *msg = NULL;
  size_t len = 0;
  while (lbc_call_recv(call, TIMEOUT_MS, &msg, &len) == LBC_OK) {
    messages++;
    lbc_free(msg);
  }
  CHECK(messages == 3, "%d messages", messages);
  unsigned flags = 0;
  int events = 0;
  double until = now_s() + 10;
  while (!(flags & LBC_CALL_DONE) && now_s() < until) {
    lbc_event ev[4];
    int n = lbc_cq_poll(cq, ev, sizeof(lbc_event), 4, 100);
    for (int i = 0; i < n; i++) {
      if (ev[i].tag == &tag) { flags |= ev[i].flags; events++; }
    }
  }
  CHECK(flags == LBC_CALL_DONE, "events 0x%x (%d), not LBC_CALL_DONE alone", flags, events);
  lbc_call_free(call);
out:
  lbc_cq_free(cq);
  lbc_channel_close(ch);
}

/* Large sends whose call is cancelled or freed while its DATA frames wait for the
 * socket: they are sent without a copy (NO_COPY, borrowed from the call's buffer), so
 * the bytes must outlive the call until written (ASan checks it), or the stream is
 * reset; either way the connection stays usable and a later stream arrives whole. */
static void free_while_sending(void) {
  lbc_channel *ch = open_with("stream_send_buffer_bytes", "33554432", NULL, NULL);
  REQUIRE(ch, "open");
  warm_up(ch);
  pb_buf big = {0};
  pb_streaming_input_request(&big, 3 * 1024 * 1024);
  for (int i = 0; i < 12; i++) {
    lbc_call *call = NULL;
    if (!CHECK_RC(lbc_call_start(ch, M_SIN, NULL, TIMEOUT_MS, NULL, NULL, &call), LBC_OK)) break;
    CHECK_RC(lbc_call_send(call, big.data, big.len, 0, TIMEOUT_MS), LBC_OK);
    CHECK_RC(lbc_call_send(call, big.data, big.len, 0, TIMEOUT_MS), LBC_OK);
    if (i % 2) CHECK_RC(lbc_call_cancel(call), LBC_OK);
    lbc_call_free(call);
  }
  pb_buf_free(&big);
  pb_buf one = {0};
  pb_streaming_input_request(&one, 1024 * 1024);
  for (int i = 0; i < 3; i++) {  /* over each endpoint's connection */
    lbc_call *call = NULL;
    if (!CHECK_RC(lbc_call_start(ch, M_SIN, NULL, TIMEOUT_MS, NULL, NULL, &call), LBC_OK)) break;
    CHECK_RC(lbc_call_send(call, one.data, one.len, 0, TIMEOUT_MS), LBC_OK);
    CHECK_RC(lbc_call_send(call, one.data, one.len, LBC_SEND_END, TIMEOUT_MS), LBC_OK);
    void *msg = NULL;
    size_t len = 0;
    uint64_t total = 0;
    if (CHECK_RC(lbc_call_recv(call, TIMEOUT_MS, &msg, &len), LBC_OK)) {
      CHECK(pb_get_varint_field(msg, len, 1, &total) == 0 && total == 2u * 1024 * 1024,
            "the server counted %llu payload bytes, not 2 MiB", (unsigned long long)total);
      lbc_free(msg);
    }
    int status = -1;
    CHECK_RC(lbc_call_finish(call, TIMEOUT_MS, &status, NULL, NULL), LBC_OK);
    CHECK(status == LBC_STATUS_OK, "status %d after the freed calls", status);
    lbc_call_free(call);
  }
  pb_buf_free(&one);
  lbc_channel_close(ch);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s TARGET\n", argv[0]);
    return 2;
  }
  g_target = argv[1];
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("test_streams against %s (lbchannel %s)%s\n", g_target, lbc_version(),
         RSS_CHECKED ? "" : " -- AddressSanitizer: memory bounds reported, not checked");
  double t0 = now_s();

  static const struct {
    const char *name;
    void (*fn)(void);
  } cases[] = {
      {"slow reader: 1 GiB server stream, bounded memory", slow_reader_1gib},
      {"slow reader: 1 MiB messages through a 64 KiB window", slow_reader_small_window},
      {"fast writer: pushback, WRITABLE, bounded memory, all delivered", fast_writer},
      {"a 0-byte send buffer: one message at a time", zero_send_buffer},
      {"1000 concurrent streams on one channel (cq, one thread)", many_streams},
      {"cancel from another thread wakes a blocked recv", cancel_blocked_recv},
      {"cancel from another thread wakes a blocked send", cancel_blocked_send},
      {"lbc_call_free wakes threads blocked on the call (LBC_ERR_CLOSED)", free_while_blocked},
      {"no event of a freed call after lbc_call_free returns", free_with_concurrent_poll},
      {"bad input and call-state errors", bad_input},
      {"a call outlives its freed completion queue", cq_freed_before_call},
      {"1000 lbc_unary_async calls on one cq", unary_async_many},
      {"events in a larger (newer) lbc_event: unknown fields zeroed", extensible_events},
      {"lbc_cq_free wakes a thread waiting in lbc_cq_poll (LBC_ERR_CLOSED)", cq_free_wakes_poll},
      {"lbc_unary_cancel (by tag) ends an async unary call", unary_async_cancel},
      {"lbc_unary_call_cancel ends exactly its call; freed handles", unary_async_cancel_by_handle},
      {"lbc_cq_fd with poll(2)", cq_fd_poll},
      {"lbc_call_recv_into: size probe, then into the caller's buffer", recv_into},
      {"large sends cancelled or freed while their frames wait (no-copy)", free_while_sending},
      {"lbc_call_set_events(0): only LBC_CALL_DONE reaches the queue", set_events_done_only},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(cases[i].name, cases[i].fn);

  printf("test_streams: %d cases passed, %d failed; %d checks passed, %d failed (%.1f s)\n",
         g_cases_passed, g_cases_failed, g_checks_passed, g_checks_failed, now_s() - t0);
  return g_checks_failed ? 1 : 0;
}
