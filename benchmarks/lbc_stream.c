/* lbc_stream — streaming load driver for lbchannel through its C API.
 *
 * One bidirectional stream (bench.Echo/Stream, the backends echo every
 * message) on a channel over the benchmark target (lb_policy=round_robin; the
 * stream stays on the backend of its first pick). ONE thread drives it through
 * a completion queue: lbc_call_send(..., 0) while fewer than --window messages
 * are in flight (LBC_ERR_WOULD_BLOCK: wait for LBC_CALL_WRITABLE), and on
 * LBC_CALL_READABLE lbc_call_recv(..., 0) until LBC_ERR_WOULD_BLOCK, sending the
 * next message right after each one taken. --window 1 is ping-pong.
 * --blocking: ping-pong without a queue (window 1): lbc_call_send, then a
 * blocking lbc_call_recv (timeout 60 s) for the echo, from the one thread.
 *
 * Schedule (as load_common.h): open, wait for the endpoints, start the stream;
 * warm-up (--warmup-ms or --warmup-calls messages), then the in-flight
 * messages are drained; --handshake; measured window: --seconds (or --calls
 * messages), then stop sending and drain, so the messages counted are exactly
 * those the server echoed in the window. Latency per message = send to receive
 * (in-order stream, so a ring of send times). After the window: close the send
 * side, read to the end, check the status is OK.
 *
 * Output: the JSON line of load_common.h with "calls" = messages echoed,
 * "cps" = messages/s, plus payload, window, "mbps" = payload MB/s (10^6 bytes,
 * one direction) and "bytes_per_msg" (serialized message).
 */
#define _GNU_SOURCE
#include <unistd.h>

#include "lbchannel.h"
#include "lbc_common.h"

static bench_args A;
static lbc_channel *CH;
static lbc_cq *CQ;
static lbc_call *CALL;
static uint8_t *MSG;
static size_t MSG_LEN;
static const char *METHOD = "/bench.Echo/Stream";

static uint64_t *RING; /* send times, ring of A.window */
static long SENT, RECEIVED;
static int SEND_BLOCKED;
static long WOULD_BLOCK; /* lbc_call_send returned LBC_ERR_WOULD_BLOCK (measured window) */
static int MEASURING;
static int BLOCKING; /* --blocking: no queue, send then blocking recv */

static void die_call(const char *what, int rc) {
  int st = -1;
  const char *msg = "";
  lbc_call_finish(CALL, 1000, &st, &msg, NULL);
  fprintf(stderr, "lbc_stream: %s: rc=%d (%s) %s; call status %s %s\n", what, rc,
          lbc_strerror(rc), lbc_last_errmsg(), st >= 0 ? lbc_status_name(st) : "-", msg);
  exit(1);
}

/* Send while the window and the phase allow it. */
static void fill(int more, long limit) {
  while (!SEND_BLOCKED && more && SENT - RECEIVED < A.window && (limit == 0 || SENT < limit)) {
    uint64_t t = bench_now_ns();
    int rc = lbc_call_send(CALL, MSG, MSG_LEN, 0, 0);
    if (rc == LBC_OK) {
      RING[SENT % A.window] = t;
      SENT++;
    } else if (rc == LBC_ERR_WOULD_BLOCK) {
      SEND_BLOCKED = 1;
      WOULD_BLOCK += MEASURING;
    } else {
      die_call("lbc_call_send", rc);
    }
  }
}

/* One phase: keep up to A.window messages in flight until `limit` messages were
 * sent in all (limit > 0) or until end_ns; then drain. */
static void phase(long count, uint64_t end_ns, bench_samples *s) {
  lbc_event ev[16];
  long limit = count > 0 ? SENT + count : 0;
  int more = count > 0 || bench_now_ns() < end_ns;
  fill(more, limit);
  while (SENT > RECEIVED || (more && SEND_BLOCKED)) {
    int n = lbc_cq_poll(CQ, ev, sizeof(lbc_event), 16, 60000);
    if (n <= 0) {
      fprintf(stderr, "lbc_stream: lbc_cq_poll: %d (%ld sent, %ld received)\n", n, SENT, RECEIVED);
      exit(1);
    }
    unsigned flags = 0;
    for (int k = 0; k < n; k++) flags |= ev[k].flags;
    if (flags & LBC_CALL_WRITABLE) SEND_BLOCKED = 0;
    if (flags & LBC_CALL_READABLE) {
      for (;;) {
        void *m = NULL;
        size_t len = 0;
        int rc = lbc_call_recv(CALL, 0, &m, &len);
        if (rc == LBC_ERR_WOULD_BLOCK) break;
        if (rc != LBC_OK) die_call(rc == LBC_END ? "stream ended early" : "lbc_call_recv", rc);
        uint64_t now = bench_now_ns();
        lbc_free(m);
        if (len != MSG_LEN) {
          if (s) s->errors++;
        } else if (s) {
          bench_push(s, now - RING[RECEIVED % A.window]);
        }
        RECEIVED++;
        if (count == 0 && more) more = now < end_ns;
        fill(more, limit);
      }
    } else if (flags & LBC_CALL_WRITABLE) {
      if (count == 0 && more) more = bench_now_ns() < end_ns;
      fill(more, limit);
    }
    if ((flags & LBC_CALL_DONE) && SENT > RECEIVED) die_call("call ended early", 0);
  }
}

/* --blocking: one message at a time, `count` messages or until end_ns. */
static void blocking_phase(long count, uint64_t end_ns, bench_samples *s) {
  for (long k = 0; count > 0 ? k < count : bench_now_ns() < end_ns; k++) {
    uint64_t t = bench_now_ns();
    int rc = lbc_call_send(CALL, MSG, MSG_LEN, 0, 60000);
    if (rc != LBC_OK) die_call("lbc_call_send", rc);
    SENT++;
    void *m = NULL;
    size_t len = 0;
    rc = lbc_call_recv(CALL, 60000, &m, &len);
    if (rc != LBC_OK) die_call(rc == LBC_END ? "stream ended early" : "lbc_call_recv", rc);
    uint64_t now = bench_now_ns();
    lbc_free(m);
    RECEIVED++;
    if (!s) continue;
    if (len != MSG_LEN)
      s->errors++;
    else
      bench_push(s, now - t);
  }
}

int main(int argc, char **argv) {
  int kept = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--blocking"))
      BLOCKING = 1;
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
  bench_parse_args(argc, argv, &A);
  if (BLOCKING) A.window = 1;
  MSG = bench_alloc_msg(A.payload, &MSG_LEN);
  RING = calloc((size_t)A.window, sizeof(uint64_t));

  CH = bench_open_channel(&A, "lbc_stream");
  if (!CH) return 1;
  if (lbc_cq_new(&CQ) != LBC_OK) {
    fprintf(stderr, "lbc_stream: lbc_cq_new: %s\n", lbc_last_errmsg());
    return 1;
  }
  /* No deadline: the stream lasts the whole run (it is checked to end OK below). */
  int rc = lbc_call_start(CH, METHOD, NULL, -1, BLOCKING ? NULL : CQ, (void *)1, &CALL);
  if (rc != LBC_OK) {
    fprintf(stderr, "lbc_stream: lbc_call_start: %s\n", lbc_last_errmsg());
    return 1;
  }

  if (BLOCKING)
    blocking_phase(A.warmup_calls, bench_now_ns() + (uint64_t)A.warmup_ms * 1000000ull, NULL);
  else if (A.warmup_calls > 0)
    phase(A.warmup_calls, 0, NULL);
  else
    phase(0, bench_now_ns() + (uint64_t)A.warmup_ms * 1000000ull, NULL);
  if (A.handshake) bench_handshake();

  bench_samples s = {0};
  double cpu0 = bench_cpu_seconds();
  uint64_t t0 = bench_now_ns();
  MEASURING = 1;
  if (BLOCKING)
    blocking_phase(A.calls, t0 + (uint64_t)(A.seconds * 1e9), &s);
  else
    phase(A.calls, t0 + (uint64_t)(A.seconds * 1e9), &s);
  MEASURING = 0;
  uint64_t t1 = bench_now_ns();
  double cpu1 = bench_cpu_seconds();

  /* End the stream cleanly and check its status. */
  lbc_call_close_send(CALL);
  for (;;) {
    void *m = NULL;
    size_t len = 0;
    rc = lbc_call_recv(CALL, 10000, &m, &len);
    if (rc == LBC_END) break;
    if (rc != LBC_OK) die_call("recv after close_send", rc);
    lbc_free(m);
    s.errors++; /* the server echoed more than was sent */
  }
  int status = -1;
  const char *smsg = "";
  rc = lbc_call_finish(CALL, 10000, &status, &smsg, NULL);
  if (rc != LBC_OK || status != LBC_STATUS_OK) {
    fprintf(stderr, "lbc_stream: stream ended with rc=%d status=%s %s\n", rc,
            status >= 0 ? lbc_status_name(status) : "-", smsg);
    s.errors++;
  }

  double wall = (t1 - t0) / 1e9;
  char extra[320];
  snprintf(extra, sizeof extra,
           "\"mode\": \"stream\", \"payload\": %d, \"window\": %d, \"bytes_per_msg\": %zu, "
           "\"mbps\": %.3f, \"peer\": \"%s\", \"send_would_block\": %ld, \"blocking\": %d",
           A.payload, A.window, MSG_LEN, wall > 0 ? s.n * (double)A.payload / wall / 1e6 : 0,
           lbc_call_peer(CALL), WOULD_BLOCK, BLOCKING);
  A.threads = 1;
  bench_report("lbchannel-c", lbc_version(), &A, &s, wall, cpu1 - cpu0, extra);
  lbc_call_free(CALL);
  lbc_cq_free(CQ);
  lbc_channel_close(CH);
  free(MSG);
  free(RING);
  return 0;
}
