/*
 * test_interop.c — gRPC's standard interop client cases
 * (grpc/grpc doc/interop-test-descriptions.md) through lbchannel's C API.
 *
 *   test_interop TARGET
 *
 * TARGET lists running interop servers (Tests/interop/server.py), e.g.
 * "ipv4:127.0.0.2:50051,127.0.0.3:50051"; Tests/c/run-interop.sh starts them
 * and passes the target. Every case runs on one balanced channel:
 *
 *   - the unary cases through lbc_unary() AND through the streaming call API
 *     (lbc_call_start/send/recv/finish, "(call)"), since unary is just one
 *     shape of a call;
 *   - the streaming cases through the blocking call API;
 *   - a few cases once more from a single thread driving a completion queue
 *     with non-blocking operations ("(cq)") and lbc_unary_async ("(async)").
 *
 * Prints one "PASS name" / "FAIL name" line per case (failed checks above it)
 * and a summary; exits 1 if any case failed.
 *
 * Build: cc -Wall -Wextra -Werror -pthread test_interop.c $(pkg-config --cflags --libs lbchannel)
 */
#define _POSIX_C_SOURCE 200809L

#include <lbchannel.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interop_common.h"
#include "pb.h"

static const char *g_target;
static lbc_channel *g_ch;

/* Per-call deadline of the cases (generous: a hang must fail, not wait forever). */
#define CALL_TIMEOUT_MS 20000

static const char SPECIAL_MESSAGE[] =
    "\t\ntest with whitespace\r\nand Unicode BMP \xe2\x98\xba"
    " and non-BMP \xf0\x9f\x98\x88"
    "\t\n";
static const uint8_t TRAILING_BIN[3] = {0xab, 0xab, 0xab};
#define INITIAL_VALUE "test_initial_metadata_value"

/* ------------------------------------------------------------------------- */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------- */

/* Check that a response message has a field-1 payload of `size` zero bytes. */
static int check_payload(const void *msg, size_t len, size_t size, const char *what) {
  size_t blen = 0;
  int zero = 0;
  int rc = pb_get_payload_body(msg, len, 1, NULL, &blen, &zero);
  return CHECK(rc == 0 && blen == size && zero,
               "%s: payload body of %zu bytes (zeros: %d, parse: %d), expected %zu zeros", what,
               blen, zero, rc, size);
}

/* Blocking lbc_unary; returns the response (caller frees) or NULL after a failed check. */
static lbc_response *unary(const char *method, const pb_buf *req, const lbc_metadata *md) {
  lbc_response *resp = NULL;
  int rc = lbc_unary(g_ch, method, req ? req->data : NULL, req ? req->len : 0, md,
                     CALL_TIMEOUT_MS, &resp);
  if (!CHECK(rc == LBC_OK && resp, "lbc_unary(%s): %d (%s) %s", method, rc, lbc_strerror(rc),
             lbc_last_errmsg()))
    return NULL;
  return resp;
}

static int check_status(int status, const char *message, int want, const char *want_message) {
  return CHECK(status == want && (!want_message || strcmp(message ? message : "", want_message) == 0),
               "ended with %s \"%s\", expected %s \"%s\"", lbc_status_name(status),
               message ? message : "(null)", lbc_status_name(want), want_message ? want_message : "*");
}

static int check_resp_status(const lbc_response *resp, int want, const char *want_message) {
  return check_status(lbc_response_status(resp), lbc_response_message(resp), want, want_message);
}

/* A unary-shaped call through the streaming API: one request with
 * LBC_SEND_END, then every response until LBC_END. Returns the call (free it)
 * with *status / *message from lbc_call_finish, the first response in
 * *resp (lbc_free it; NULL if none) and the number of responses in *nresp. */
static lbc_call *call_unary(const char *method, const pb_buf *req, const lbc_metadata *md,
                            int *status, const char **message, void **resp, size_t *resp_len,
                            int *nresp) {
  lbc_call *call = NULL;
  int rc = lbc_call_start(g_ch, method, md, CALL_TIMEOUT_MS, NULL, NULL, &call);
  *resp = NULL;
  *resp_len = 0;
  *nresp = 0;
  *status = -1;
  *message = NULL;
  if (!CHECK(rc == LBC_OK && call, "lbc_call_start(%s): %d (%s) %s", method, rc,
             lbc_strerror(rc), lbc_last_errmsg()))
    return NULL;
  rc = lbc_call_send(call, req ? req->data : NULL, req ? req->len : 0, LBC_SEND_END, -1);
  /* The call may legitimately be over already (e.g. UNIMPLEMENTED answered at once). */
  CHECK(rc == LBC_OK || rc == LBC_ERR_CALL_FINISHED, "lbc_call_send: %d (%s) %s", rc,
        lbc_strerror(rc), lbc_last_errmsg());
  for (;;) {
    void *m = NULL;
    size_t len = 0;
    rc = lbc_call_recv(call, -1, &m, &len);
    if (rc != LBC_OK) break;
    CHECK(m != NULL, "lbc_call_recv gave LBC_OK with a NULL message (len %zu)", len);
    if (*nresp == 0) {
      *resp = m;
      *resp_len = len;
    } else {
      lbc_free(m);
    }
    (*nresp)++;
  }
  CHECK(rc == LBC_END, "lbc_call_recv: %d (%s) %s, expected LBC_END", rc, lbc_strerror(rc),
        lbc_last_errmsg());
  rc = lbc_call_finish(call, -1, status, message, NULL);
  CHECK(rc == LBC_OK, "lbc_call_finish: %d (%s) %s", rc, lbc_strerror(rc), lbc_last_errmsg());
  /* Once the call has ended, a second recv says LBC_END again and finish does not block. */
  {
    void *m = NULL;
    size_t len = 0;
    CHECK_RC(lbc_call_recv(call, 0, &m, &len), LBC_END);
    CHECK_RC(lbc_call_finish(call, 0, NULL, NULL, NULL), LBC_OK);
  }
  return call;
}

static lbc_metadata *echo_metadata(void) {
  lbc_metadata *md = NULL;
  if (lbc_metadata_new(&md) != LBC_OK) return NULL;
  CHECK_RC(lbc_metadata_add(md, "x-grpc-test-echo-initial", INITIAL_VALUE, strlen(INITIAL_VALUE)),
           LBC_OK);
  CHECK_RC(lbc_metadata_add(md, "x-grpc-test-echo-trailing-bin", TRAILING_BIN, sizeof TRAILING_BIN),
           LBC_OK);
  return md;
}

/* Receive one message (blocking, with the case deadline) and check its payload size. */
static int recv_payload(lbc_call *call, size_t size, const char *what) {
  void *m = NULL;
  size_t len = 0;
  int rc = lbc_call_recv(call, CALL_TIMEOUT_MS, &m, &len);
  if (!CHECK(rc == LBC_OK, "%s: lbc_call_recv: %d (%s) %s", what, rc, lbc_strerror(rc),
             lbc_last_errmsg()))
    return 0;
  int ok = check_payload(m, len, size, what);
  lbc_free(m);
  return ok;
}

static int expect_end(lbc_call *call) {
  void *m = NULL;
  size_t len = 0;
  int rc = lbc_call_recv(call, CALL_TIMEOUT_MS, &m, &len);
  if (rc == LBC_OK) lbc_free(m);
  return CHECK(rc == LBC_END, "lbc_call_recv: %d (%s) (len %zu), expected LBC_END", rc,
               lbc_strerror(rc), len);
}

static int finish_status(lbc_call *call, int want, const char *want_message) {
  int status = -1;
  const char *message = NULL;
  int rc = lbc_call_finish(call, CALL_TIMEOUT_MS, &status, &message, NULL);
  if (!CHECK(rc == LBC_OK, "lbc_call_finish: %d (%s)", rc, lbc_strerror(rc))) return 0;
  return check_status(status, message, want, want_message);
}

static lbc_call *start(const char *method, const lbc_metadata *md, int64_t timeout_ms) {
  lbc_call *call = NULL;
  int rc = lbc_call_start(g_ch, method, md, timeout_ms, NULL, NULL, &call);
  CHECK(rc == LBC_OK && call, "lbc_call_start(%s): %d (%s) %s", method, rc, lbc_strerror(rc),
        lbc_last_errmsg());
  return rc == LBC_OK ? call : NULL;
}

static int send_buf(lbc_call *call, const pb_buf *b, unsigned flags) {
  int rc = lbc_call_send(call, b->data, b->len, flags, CALL_TIMEOUT_MS);
  return CHECK(rc == LBC_OK, "lbc_call_send(%zu bytes, flags %u): %d (%s) %s", b->len, flags, rc,
               lbc_strerror(rc), lbc_last_errmsg());
}

static const int32_t REQ_SIZES[4] = {27182, 8, 1828, 45904};
static const int32_t RESP_SIZES[4] = {31415, 9, 2653, 58979};

/* ------------------------------------------------------------------------- */
/* Unary cases                                                                */
/* ------------------------------------------------------------------------- */

static void empty_unary(void) {
  lbc_response *resp = unary(M_EMPTY, NULL, NULL);
  size_t len = 99;
  if (!resp) return;
  check_resp_status(resp, LBC_STATUS_OK, NULL);
  lbc_response_data(resp, &len);
  CHECK(len == 0, "response of %zu bytes, expected an empty Empty", len);
  lbc_response_free(resp);
}

static void empty_unary_call(void) {
  int status, n;
  const char *message;
  void *resp;
  size_t len;
  pb_buf empty = {0};
  lbc_call *call = call_unary(M_EMPTY, &empty, NULL, &status, &message, &resp, &len, &n);
  if (!call) return;
  check_status(status, message, LBC_STATUS_OK, NULL);
  CHECK(n == 1, "%d responses, expected 1", n);
  CHECK(resp != NULL && len == 0, "response %p of %zu bytes, expected a non-NULL empty message",
        resp, len);
  lbc_free(resp);
  lbc_call_free(call);
}

static void large_unary(void) {
  pb_buf req = {0};
  const uint8_t *data;
  size_t len = 0;
  REQUIRE(pb_simple_request(&req, 314159, 271828, 0, NULL) == 0, "encode");
  lbc_response *resp = unary(M_UNARY, &req, NULL);
  pb_buf_free(&req);
  if (!resp) return;
  if (check_resp_status(resp, LBC_STATUS_OK, NULL)) {
    data = lbc_response_data(resp, &len);
    check_payload(data, len, 314159, "SimpleResponse");
  }
  lbc_response_free(resp);
}

static void large_unary_call(void) {
  int status, n;
  const char *message;
  void *resp;
  size_t len;
  pb_buf req = {0};
  REQUIRE(pb_simple_request(&req, 314159, 271828, 0, NULL) == 0, "encode");
  lbc_call *call = call_unary(M_UNARY, &req, NULL, &status, &message, &resp, &len, &n);
  pb_buf_free(&req);
  if (!call) return;
  check_status(status, message, LBC_STATUS_OK, NULL);
  CHECK(n == 1, "%d responses, expected 1", n);
  if (resp) check_payload(resp, len, 314159, "SimpleResponse");
  CHECK(strlen(lbc_call_peer(call)) > 0, "lbc_call_peer is empty after the call");
  lbc_free(resp);
  lbc_call_free(call);
}

static void custom_metadata_unary(void) {
  pb_buf req = {0};
  lbc_metadata *md = echo_metadata();
  REQUIRE(md, "metadata");
  REQUIRE(pb_simple_request(&req, 314159, 271828, 0, NULL) == 0, "encode");
  lbc_response *resp = unary(M_UNARY, &req, md);
  pb_buf_free(&req);
  lbc_metadata_free(md);
  if (!resp) return;
  check_resp_status(resp, LBC_STATUS_OK, NULL);
  size_t len = 0;
  const uint8_t *data = lbc_response_data(resp, &len);
  check_payload(data, len, 314159, "SimpleResponse");
  CHECK(md_has(lbc_response_headers(resp), "x-grpc-test-echo-initial", INITIAL_VALUE,
               strlen(INITIAL_VALUE)),
        "initial metadata lacks x-grpc-test-echo-initial: [%s]", md_str(lbc_response_headers(resp)));
  CHECK(md_has(lbc_response_trailers(resp), "x-grpc-test-echo-trailing-bin", TRAILING_BIN, 3),
        "trailers lack x-grpc-test-echo-trailing-bin = ababab: [%s]",
        md_str(lbc_response_trailers(resp)));
  lbc_response_free(resp);
}

/* A unary RPC that must fail with `status` (and `message_text`, unless NULL), through
 * lbc_unary or (via_call) through lbc_call_*. */
static void expect_unary_failure(const char *method, const pb_buf *req, int status_expected,
                                 const char *message_text, int via_call) {
  if (!via_call) {
    lbc_response *resp = unary(method, req, NULL);
    if (resp) {
      check_resp_status(resp, status_expected, message_text);
      lbc_response_free(resp);
    }
    return;
  }
  int status, n;
  const char *message;
  void *resp;
  size_t len;
  lbc_call *call = call_unary(method, req, NULL, &status, &message, &resp, &len, &n);
  if (call) {
    check_status(status, message, status_expected, message_text);
    CHECK(n == 0, "%d responses, expected none", n);
    lbc_free(resp);
    lbc_call_free(call);
  }
}

static void status_unary_common(const char *message_text, int via_call) {
  pb_buf req = {0};
  REQUIRE(pb_simple_request(&req, 0, -1, 2, message_text) == 0, "encode");
  expect_unary_failure(M_UNARY, &req, LBC_STATUS_UNKNOWN, message_text, via_call);
  pb_buf_free(&req);
}

static void status_code_and_message_unary(void) { status_unary_common("test status message", 0); }
static void status_code_and_message_unary_call(void) {
  status_unary_common("test status message", 1);
}
static void special_status_message(void) { status_unary_common(SPECIAL_MESSAGE, 0); }
static void special_status_message_call(void) { status_unary_common(SPECIAL_MESSAGE, 1); }

static void unimplemented_common(const char *method, int via_call) {
  pb_buf empty = {0};
  expect_unary_failure(method, via_call ? &empty : NULL, LBC_STATUS_UNIMPLEMENTED, NULL, via_call);
}

static void unimplemented_method(void) { unimplemented_common(M_UNIMPL, 0); }
static void unimplemented_method_call(void) { unimplemented_common(M_UNIMPL, 1); }
static void unimplemented_service(void) { unimplemented_common(M_UNIMPL_SVC, 0); }
static void unimplemented_service_call(void) { unimplemented_common(M_UNIMPL_SVC, 1); }

/* ------------------------------------------------------------------------- */
/* Streaming cases (blocking call API)                                        */
/* ------------------------------------------------------------------------- */

static void client_streaming(void) {
  lbc_call *call = start(M_SIN, NULL, CALL_TIMEOUT_MS);
  if (!call) return;
  for (int i = 0; i < 4; i++) {
    pb_buf req = {0};
    pb_streaming_input_request(&req, (size_t)REQ_SIZES[i]);
    send_buf(call, &req, 0);
    pb_buf_free(&req);
  }
  CHECK_RC(lbc_call_close_send(call), LBC_OK);
  void *m = NULL;
  size_t len = 0;
  int rc = lbc_call_recv(call, CALL_TIMEOUT_MS, &m, &len);
  if (CHECK(rc == LBC_OK, "lbc_call_recv: %d (%s)", rc, lbc_strerror(rc))) {
    uint64_t total = 0;
    CHECK(pb_get_varint_field(m, len, 1, &total) == 0 && total == 74922,
          "aggregated_payload_size %llu, expected 74922", (unsigned long long)total);
    lbc_free(m);
  }
  expect_end(call);
  finish_status(call, LBC_STATUS_OK, NULL);
  lbc_call_free(call);
}

static void server_streaming(void) {
  pb_buf req = {0};
  lbc_call *call = start(M_SOUT, NULL, CALL_TIMEOUT_MS);
  if (!call) return;
  pb_streaming_output_request(&req, RESP_SIZES, 4, 0, -1, 0, NULL);
  send_buf(call, &req, LBC_SEND_END);
  pb_buf_free(&req);
  for (int i = 0; i < 4; i++)
    if (!recv_payload(call, (size_t)RESP_SIZES[i], "StreamingOutputCallResponse")) break;
  expect_end(call);
  finish_status(call, LBC_STATUS_OK, NULL);
  lbc_call_free(call);
}

static void ping_pong(void) {
  lbc_call *call = start(M_FDX, NULL, CALL_TIMEOUT_MS);
  if (!call) return;
  for (int i = 0; i < 4; i++) {
    pb_buf req = {0};
    pb_streaming_output_request(&req, &RESP_SIZES[i], 1, 0, REQ_SIZES[i], 0, NULL);
    int ok = send_buf(call, &req, 0);
    pb_buf_free(&req);
    if (!ok || !recv_payload(call, (size_t)RESP_SIZES[i], "ping_pong response")) break;
    /* Nothing else may be waiting: exactly one response per request. */
    void *m = NULL;
    size_t len;
    int rc = lbc_call_recv(call, 0, &m, &len);
    if (rc == LBC_OK) lbc_free(m);
    CHECK(rc == LBC_ERR_WOULD_BLOCK, "recv(timeout 0) between pings: %d (%s), expected WOULD_BLOCK",
          rc, lbc_strerror(rc));
  }
  CHECK_RC(lbc_call_close_send(call), LBC_OK);
  expect_end(call);
  finish_status(call, LBC_STATUS_OK, NULL);
  lbc_call_free(call);
}

static void half_duplex(void) {
  lbc_call *call = start(M_HDX, NULL, CALL_TIMEOUT_MS);
  if (!call) return;
  for (int i = 0; i < 4; i++) {
    pb_buf req = {0};
    pb_streaming_output_request(&req, &RESP_SIZES[i], 1, 0, REQ_SIZES[i], 0, NULL);
    send_buf(call, &req, i == 3 ? LBC_SEND_END : 0);
    pb_buf_free(&req);
  }
  for (int i = 0; i < 4; i++)
    if (!recv_payload(call, (size_t)RESP_SIZES[i], "half_duplex response")) break;
  expect_end(call);
  finish_status(call, LBC_STATUS_OK, NULL);
  lbc_call_free(call);
}

static void empty_stream(void) {
  lbc_call *call = start(M_FDX, NULL, CALL_TIMEOUT_MS);
  if (!call) return;
  CHECK_RC(lbc_call_close_send(call), LBC_OK);
  expect_end(call);
  finish_status(call, LBC_STATUS_OK, NULL);
  lbc_call_free(call);
}

static void cancel_after_begin(void) {
  lbc_call *call = start(M_SIN, NULL, CALL_TIMEOUT_MS);
  if (!call) return;
  CHECK_RC(lbc_call_cancel(call), LBC_OK);
  finish_status(call, LBC_STATUS_CANCELLED, NULL);
  expect_end(call);
  CHECK_RC(lbc_call_send(call, "", 0, 0, 0), LBC_ERR_CALL_FINISHED);
  CHECK_RC(lbc_call_cancel(call), LBC_OK); /* repeatable */
  lbc_call_free(call);
}

static void cancel_after_first_response(void) {
  pb_buf req = {0};
  lbc_call *call = start(M_FDX, NULL, CALL_TIMEOUT_MS);
  if (!call) return;
  pb_streaming_output_request(&req, &RESP_SIZES[0], 1, 0, REQ_SIZES[0], 0, NULL);
  send_buf(call, &req, 0);
  pb_buf_free(&req);
  recv_payload(call, (size_t)RESP_SIZES[0], "first response");
  CHECK_RC(lbc_call_cancel(call), LBC_OK);
  expect_end(call);
  finish_status(call, LBC_STATUS_CANCELLED, NULL);
  lbc_call_free(call);
}

static void timeout_on_sleeping_server(void) {
  pb_buf req = {0};
  double t0 = now_s();
  lbc_call *call = start(M_FDX, NULL, 1);
  if (!call) return;
  pb_streaming_output_request(&req, NULL, 0, 0, 27182, 0, NULL);
  int rc = lbc_call_send(call, req.data, req.len, 0, CALL_TIMEOUT_MS);
  pb_buf_free(&req);
  /* With a 1 ms deadline the call may already be over when the send comes. */
  CHECK(rc == LBC_OK || rc == LBC_ERR_CALL_FINISHED, "lbc_call_send: %d (%s)", rc,
        lbc_strerror(rc));
  expect_end(call);
  finish_status(call, LBC_STATUS_DEADLINE_EXCEEDED, NULL);
  CHECK(now_s() - t0 < 5.0, "the 1 ms deadline took %.2f s to end the call", now_s() - t0);
  lbc_call_free(call);
}

static void custom_metadata_full_duplex(void) {
  pb_buf req = {0};
  const lbc_metadata *headers = NULL, *trailers = NULL;
  int status = -1;
  const char *message = NULL;
  int32_t size = 314159;
  lbc_metadata *md = echo_metadata();
  REQUIRE(md, "metadata");
  lbc_call *call = start(M_FDX, md, CALL_TIMEOUT_MS);
  lbc_metadata_free(md); /* copied by lbc_call_start */
  if (!call) return;
  pb_streaming_output_request(&req, &size, 1, 0, 271828, 0, NULL);
  send_buf(call, &req, LBC_SEND_END);
  pb_buf_free(&req);
  if (CHECK_RC(lbc_call_headers(call, CALL_TIMEOUT_MS, &headers), LBC_OK))
    CHECK(md_has(headers, "x-grpc-test-echo-initial", INITIAL_VALUE, strlen(INITIAL_VALUE)),
          "initial metadata lacks x-grpc-test-echo-initial: [%s]", md_str(headers));
  recv_payload(call, 314159, "response");
  expect_end(call);
  if (CHECK_RC(lbc_call_finish(call, CALL_TIMEOUT_MS, &status, &message, &trailers), LBC_OK)) {
    check_status(status, message, LBC_STATUS_OK, NULL);
    CHECK(md_has(trailers, "x-grpc-test-echo-trailing-bin", TRAILING_BIN, 3),
          "trailers lack x-grpc-test-echo-trailing-bin = ababab: [%s]", md_str(trailers));
  }
  lbc_call_free(call);
}

static void status_full_duplex_common(const char *message_text) {
  pb_buf req = {0};
  lbc_call *call = start(M_FDX, NULL, CALL_TIMEOUT_MS);
  if (!call) return;
  pb_streaming_output_request(&req, NULL, 0, 0, -1, 2, message_text);
  send_buf(call, &req, LBC_SEND_END);
  pb_buf_free(&req);
  expect_end(call);
  finish_status(call, LBC_STATUS_UNKNOWN, message_text);
  lbc_call_free(call);
}

static void status_code_and_message_full_duplex(void) {
  status_full_duplex_common("test status message");
}
static void special_status_message_full_duplex(void) {
  status_full_duplex_common(SPECIAL_MESSAGE);
}

/* ------------------------------------------------------------------------- */
/* Completion-queue driven cases (one thread, non-blocking operations)        */
/* ------------------------------------------------------------------------- */

/* Run streams[0..n) on a fresh cq until all are done (deadline 20 s). */
static void run_cq_streams(cq_stream *streams, size_t n, const char *method) {
  lbc_cq *cq = NULL;
  REQUIRE(lbc_cq_new(&cq) == LBC_OK && cq, "lbc_cq_new");
  for (size_t i = 0; i < n; i++) cqs_start(&streams[i], g_ch, method, NULL, CALL_TIMEOUT_MS, cq);
  size_t left = cqs_run(cq, streams, n, now_s() + 20);
  CHECK(left == 0, "%zu of %zu streams did not finish in time", left, n);
  for (size_t i = 0; i < n; i++) {
    if (streams[i].call) {
      CHECK(0, "[%s] not finished: sent %zu, got %zu, events 0x%x, ended %d, done %d",
            streams[i].name, streams[i].sent, streams[i].got, streams[i].events, streams[i].ended,
            streams[i].done);
      lbc_call_free(streams[i].call);
      streams[i].call = NULL;
    }
  }
  lbc_cq_free(cq);
}

static void ping_pong_cq(void) {
  pb_buf reqs[4] = {{0}};
  cq_stream s;
  memset(&s, 0, sizeof s);
  for (int i = 0; i < 4; i++)
    pb_streaming_output_request(&reqs[i], &RESP_SIZES[i], 1, 0, REQ_SIZES[i], 0, NULL);
  s.name = "ping_pong";
  s.reqs = reqs;
  s.nreqs = 4;
  s.lockstep = 1;
  s.expect_sizes = RESP_SIZES;
  s.nexpect = 4;
  s.expect_status = LBC_STATUS_OK;
  run_cq_streams(&s, 1, M_FDX);
  CHECK((s.events & LBC_CALL_READABLE) && (s.events & LBC_CALL_DONE),
        "events seen 0x%x, expected READABLE and DONE among them", s.events);
  for (int i = 0; i < 4; i++) pb_buf_free(&reqs[i]);
}

/* server_streaming, client_streaming, empty_stream and a status echo, all at once on one cq. */
static void streams_together_cq(void) {
  pb_buf sout = {0}, sin[4] = {{0}}, status_req = {0};
  uint8_t agg[8];
  size_t agg_len = 0;
  cq_stream s[4];
  memset(s, 0, sizeof s);
  pb_streaming_output_request(&sout, RESP_SIZES, 4, 0, -1, 0, NULL);
  for (int i = 0; i < 4; i++) pb_streaming_input_request(&sin[i], (size_t)REQ_SIZES[i]);
  pb_streaming_output_request(&status_req, NULL, 0, 0, -1, 2, SPECIAL_MESSAGE);
  { /* the expected StreamingInputCallResponse bytes: field 1 = 74922 */
    pb_buf b = {0};
    pb_put_int(&b, 1, 74922);
    memcpy(agg, b.data, b.len);
    agg_len = b.len;
    pb_buf_free(&b);
  }
  s[0] = (cq_stream){.name = "server_streaming", .reqs = &sout, .nreqs = 1,
                     .expect_sizes = RESP_SIZES, .nexpect = 4, .expect_status = LBC_STATUS_OK};
  s[1] = (cq_stream){.name = "client_streaming", .reqs = sin, .nreqs = 4, .raw_expect = agg,
                     .raw_len = agg_len, .nexpect = 1, .expect_status = LBC_STATUS_OK};
  s[2] = (cq_stream){.name = "empty_stream", .nreqs = 0, .expect_status = LBC_STATUS_OK};
  s[3] = (cq_stream){.name = "special_status_message", .reqs = &status_req, .nreqs = 1,
                     .expect_status = LBC_STATUS_UNKNOWN, .expect_message = SPECIAL_MESSAGE};
  {
    lbc_cq *cq = NULL;
    REQUIRE(lbc_cq_new(&cq) == LBC_OK && cq, "lbc_cq_new");
    cqs_start(&s[0], g_ch, M_SOUT, NULL, CALL_TIMEOUT_MS, cq);
    cqs_start(&s[1], g_ch, M_SIN, NULL, CALL_TIMEOUT_MS, cq);
    cqs_start(&s[2], g_ch, M_FDX, NULL, CALL_TIMEOUT_MS, cq);
    cqs_start(&s[3], g_ch, M_FDX, NULL, CALL_TIMEOUT_MS, cq);
    size_t left = cqs_run(cq, s, 4, now_s() + 20);
    CHECK(left == 0, "%zu of 4 streams did not finish in time", left);
    for (int i = 0; i < 4; i++)
      if (s[i].call) {
        CHECK(0, "[%s] unfinished: got %zu, events 0x%x", s[i].name, s[i].got, s[i].events);
        lbc_call_free(s[i].call);
      }
    lbc_cq_free(cq);
  }
  pb_buf_free(&sout);
  pb_buf_free(&status_req);
  for (int i = 0; i < 4; i++) pb_buf_free(&sin[i]);
}

/* cancel_after_first_response on a cq: cancel from the event loop after the first message. */
static void cancel_after_first_response_cq(void) {
  lbc_cq *cq = NULL;
  lbc_call *call = NULL;
  pb_buf req = {0};
  int got = 0, ended = 0, done = 0, tag = 0;
  REQUIRE(lbc_cq_new(&cq) == LBC_OK, "lbc_cq_new");
  if (!CHECK_RC(lbc_call_start(g_ch, M_FDX, NULL, CALL_TIMEOUT_MS, cq, &tag, &call), LBC_OK)) {
    lbc_cq_free(cq);
    return;
  }
  pb_streaming_output_request(&req, &RESP_SIZES[0], 1, 0, REQ_SIZES[0], 0, NULL);
  CHECK_RC(lbc_call_send(call, req.data, req.len, 0, 0), LBC_OK);
  pb_buf_free(&req);
  double deadline = now_s() + 20;
  while (!(done && ended) && now_s() < deadline) {
    lbc_event ev[8];
    int n = lbc_cq_poll(cq, ev, sizeof(lbc_event), 8, 100);
    if (!CHECK(n >= 0, "lbc_cq_poll: %d", n)) break;
    for (int i = 0; i < n; i++) {
      CHECK(ev[i].tag == &tag && ev[i].kind == LBC_EVENT_CALL, "unexpected event tag/kind");
      if (ev[i].flags & (LBC_CALL_READABLE | LBC_CALL_DONE)) {
        for (;;) {
          void *m = NULL;
          size_t len = 0;
          int rc = lbc_call_recv(call, 0, &m, &len);
          if (rc == LBC_OK) {
            if (got++ == 0) {
              check_payload(m, len, (size_t)RESP_SIZES[0], "first response");
              CHECK_RC(lbc_call_cancel(call), LBC_OK);
            }
            lbc_free(m);
            continue;
          }
          if (rc == LBC_END) ended = 1;
          else CHECK(rc == LBC_ERR_WOULD_BLOCK, "lbc_call_recv: %d (%s)", rc, lbc_strerror(rc));
          break;
        }
      }
      if (ev[i].flags & LBC_CALL_DONE) done = 1;
    }
  }
  CHECK(done && ended && got == 1, "done %d, ended %d, %d responses (expected 1)", done, ended, got);
  if (done) {
    int status = -1;
    if (CHECK_RC(lbc_call_finish(call, 0, &status, NULL, NULL), LBC_OK))
      check_status(status, "", LBC_STATUS_CANCELLED, NULL);
  }
  lbc_call_free(call);
  lbc_cq_free(cq);
}

/* empty_unary, large_unary and status_code_and_message as lbc_unary_async on one cq. */
static void unary_async(void) {
  lbc_cq *cq = NULL;
  pb_buf large = {0}, status_req = {0};
  int tags[3] = {0, 1, 2}, seen[3] = {0, 0, 0};
  REQUIRE(lbc_cq_new(&cq) == LBC_OK, "lbc_cq_new");
  pb_simple_request(&large, 314159, 271828, 0, NULL);
  pb_simple_request(&status_req, 0, -1, 2, "test status message");
  CHECK_RC(lbc_unary_async(g_ch, M_EMPTY, NULL, 0, NULL, CALL_TIMEOUT_MS, cq, &tags[0], NULL), LBC_OK);
  CHECK_RC(lbc_unary_async(g_ch, M_UNARY, large.data, large.len, NULL, CALL_TIMEOUT_MS, cq,
                           &tags[1], NULL),
           LBC_OK);
  CHECK_RC(lbc_unary_async(g_ch, M_UNARY, status_req.data, status_req.len, NULL, CALL_TIMEOUT_MS,
                           cq, &tags[2], NULL),
           LBC_OK);
  pb_buf_free(&large);
  pb_buf_free(&status_req);
  int total = 0;
  double deadline = now_s() + 20;
  while (total < 3 && now_s() < deadline) {
    lbc_event ev[4];
    int n = lbc_cq_poll(cq, ev, sizeof(lbc_event), 4, 100);
    if (!CHECK(n >= 0, "lbc_cq_poll: %d", n)) break;
    for (int i = 0; i < n; i++) {
      int *t = (int *)ev[i].tag;
      if (!CHECK(ev[i].kind == LBC_EVENT_UNARY && ev[i].response && t >= tags && t < tags + 3,
                 "unexpected event kind %d tag %p response %p", ev[i].kind, ev[i].tag,
                 (void *)ev[i].response))
        continue;
      CHECK(!seen[*t]++, "second event for call %d", *t);
      total++;
      lbc_response *r = ev[i].response;
      size_t len = 0;
      const uint8_t *data = lbc_response_data(r, &len);
      if (*t == 0) {
        check_resp_status(r, LBC_STATUS_OK, NULL);
        CHECK(len == 0, "EmptyCall answered %zu bytes", len);
      } else if (*t == 1) {
        if (check_resp_status(r, LBC_STATUS_OK, NULL)) check_payload(data, len, 314159, "large");
      } else {
        check_resp_status(r, LBC_STATUS_UNKNOWN, "test status message");
      }
      lbc_response_free(r);
    }
  }
  CHECK(total == 3, "%d of 3 async results arrived", total);
  lbc_cq_free(cq);
}

/* ------------------------------------------------------------------------- */
/* Balancing across the interop servers                                       */
/* ------------------------------------------------------------------------- */

/* With N > 1 servers, round_robin spreads EmptyCalls over all of them
 * (each server names itself in the x-lbtest-server trailer). */
static void balancing_round_robin(void) {
  int n = target_count(g_target);
  char seen[8][64];
  int nseen = 0;
  static const char *const kv[] = {"lb_policy", "round_robin", NULL};
  lbc_channel *ch = open_channel_kv(g_target, kv);
  REQUIRE(ch, "open");
  /* Endpoints still connecting are skipped at first: give every one a chance. */
  double deadline = now_s() + 5;
  for (int i = 0; i < 300 && nseen < n && now_s() < deadline; i++) {
    lbc_response *resp = NULL;
    int rc = lbc_unary(ch, M_EMPTY, NULL, 0, NULL, CALL_TIMEOUT_MS, &resp);
    if (!CHECK(rc == LBC_OK, "lbc_unary: %s", lbc_strerror(rc))) break;
    if (check_resp_status(resp, LBC_STATUS_OK, NULL)) {
      size_t len;
      const uint8_t *v = md_find(lbc_response_trailers(resp), "x-lbtest-server", &len);
      if (CHECK(v != NULL, "no x-lbtest-server trailer: [%s]", md_str(lbc_response_trailers(resp)))) {
        int known = 0;
        for (int j = 0; j < nseen; j++)
          if (strlen(seen[j]) == len && memcmp(seen[j], v, len) == 0) known = 1;
        if (!known && nseen < 8 && len < 64) {
          memcpy(seen[nseen], v, len);
          seen[nseen][len] = 0;
          nseen++;
        }
      }
    }
    lbc_response_free(resp);
  }
  CHECK(nseen == n || n > 8, "calls reached %d distinct servers of %d", nseen, n);
  lbc_channel_close(ch);
}

/* ------------------------------------------------------------------------- */

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s TARGET\n", argv[0]);
    return 2;
  }
  g_target = argv[1];
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("test_interop against %s (lbchannel %s)\n", g_target, lbc_version());

  static const char *const kv[] = {"max_receive_message_size", "16777216", NULL};
  g_case = "open";
  g_ch = open_channel_kv(g_target, kv);
  if (!g_ch) {
    printf("FAIL could not open a channel to %s\n", g_target);
    return 1;
  }

  static const struct {
    const char *name;
    void (*fn)(void);
  } cases[] = {
      {"empty_unary", empty_unary},
      {"empty_unary (call)", empty_unary_call},
      {"large_unary", large_unary},
      {"large_unary (call)", large_unary_call},
      {"client_streaming", client_streaming},
      {"server_streaming", server_streaming},
      {"ping_pong", ping_pong},
      {"half_duplex", half_duplex},
      {"empty_stream", empty_stream},
      {"cancel_after_begin", cancel_after_begin},
      {"cancel_after_first_response", cancel_after_first_response},
      {"timeout_on_sleeping_server", timeout_on_sleeping_server},
      {"custom_metadata (unary)", custom_metadata_unary},
      {"custom_metadata (full duplex)", custom_metadata_full_duplex},
      {"status_code_and_message (unary)", status_code_and_message_unary},
      {"status_code_and_message (unary, call)", status_code_and_message_unary_call},
      {"status_code_and_message (full duplex)", status_code_and_message_full_duplex},
      {"special_status_message", special_status_message},
      {"special_status_message (call)", special_status_message_call},
      {"special_status_message (full duplex)", special_status_message_full_duplex},
      {"unimplemented_method", unimplemented_method},
      {"unimplemented_method (call)", unimplemented_method_call},
      {"unimplemented_service", unimplemented_service},
      {"unimplemented_service (call)", unimplemented_service_call},
      {"ping_pong (cq)", ping_pong_cq},
      {"server/client/empty streams + status (cq)", streams_together_cq},
      {"cancel_after_first_response (cq)", cancel_after_first_response_cq},
      {"empty/large/status unary (async)", unary_async},
      {"balancing (round_robin)", balancing_round_robin},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(cases[i].name, cases[i].fn);

  lbc_channel_close(g_ch);
  printf("test_interop: %d cases passed, %d failed (%d checks passed, %d failed)\n", g_cases_passed,
         g_cases_failed, g_checks_passed, g_checks_failed);
  return g_cases_failed ? 1 : 0;
}
