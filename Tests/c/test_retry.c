/*
 * test_retry.c — retry options and the attempts accessors, against real gRPC backends.
 *
 *   test_retry TARGET
 *
 * TARGET lists three running test backends (Tests/python/backend.py; Tests/c/run.sh
 * starts them). A channel with retry_max_attempts = 3 calls lbtest.Test/Fail:
 * UNAVAILABLE from every backend is tried three times on three endpoints (each
 * attempt avoiding the previous one's), with the server seeing
 * grpc-previous-rpc-attempts = 2 on the last; INVALID_ARGUMENT is not retried; an
 * OK call makes one attempt. lbc_call_attempts / lbc_call_attempt_peer on a
 * streaming call; NULL and out-of-range arguments; the typed setters' errors.
 *
 * Prints "N passed, M failed" and exits 1 if anything failed.
 */
#include <lbchannel.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL_METHOD "/lbtest.Test/Fail"
#define WHOAMI "/lbtest.Test/Whoami"
#define ECHO_STREAM "/lbtest.Test/EchoStream"

#include "check.h"

static const char *trailer(const lbc_response *resp, const char *key) {
  const lbc_metadata *md = lbc_response_trailers(resp);
  for (size_t i = 0; i < lbc_metadata_count(md); i++) {
    const char *k;
    const uint8_t *v;
    size_t len;
    if (lbc_metadata_get(md, i, &k, &v, &len) == LBC_OK && strcmp(k, key) == 0) {
      static char buf[64];
      snprintf(buf, sizeof buf, "%.*s", (int)len, (const char *)v);
      return buf;
    }
  }
  return NULL;
}

static lbc_channel *open_channel(const char *target) {
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL;
  if (lbc_options_new(&opts) != LBC_OK) return NULL;
  int rc = lbc_options_set(opts, "lb_policy", "round_robin");
  if (rc == LBC_OK) rc = lbc_options_set_retry_policy(opts, 3, 10, 50, 2.0, 1.0);
  if (rc == LBC_OK) rc = lbc_options_set(opts, "retry_status_codes", "UNAVAILABLE");
  if (rc == LBC_OK) rc = lbc_options_set(opts, "resolution", "eager");
  if (rc == LBC_OK) rc = lbc_channel_open(target, opts, &ch);
  if (rc != LBC_OK) printf("open failed: %s (%s)\n", lbc_strerror(rc), lbc_last_errmsg());
  lbc_options_free(opts);
  return ch;
}

static lbc_response *call(lbc_channel *ch, const char *method, const char *request) {
  lbc_response *resp = NULL;
  int rc = lbc_unary(ch, method, request, strlen(request), NULL, 5000, &resp);
  CHECK(rc == LBC_OK, "lbc_unary: %s", lbc_strerror(rc));
  return rc == LBC_OK ? resp : NULL;
}

static void test_retried_unavailable(lbc_channel *ch) {
  /* Wait until all three endpoints are READY so the attempts can spread. */
  for (int i = 0; i < 30; i++) lbc_response_free(call(ch, WHOAMI, ""));
  lbc_response *resp = call(ch, FAIL_METHOD, "14:try again");
  if (!resp) return;
  CHECK(lbc_response_status(resp) == LBC_STATUS_UNAVAILABLE, "status %d", lbc_response_status(resp));
  CHECK(lbc_response_attempts(resp) == 3, "attempts %d", lbc_response_attempts(resp));
  const char *p0 = lbc_response_attempt_peer(resp, 0), *p1 = lbc_response_attempt_peer(resp, 1),
             *p2 = lbc_response_attempt_peer(resp, 2);
  CHECK(p0 && p1 && p2 && *p0 && *p1 && *p2, "attempt peers missing");
  if (p0 && p1 && p2) {
    CHECK(strcmp(p0, p1) != 0 && strcmp(p1, p2) != 0, "consecutive attempts on one endpoint: %s %s %s", p0, p1, p2);
    CHECK(strcmp(p2, lbc_response_peer(resp)) == 0, "last attempt peer %s != peer %s", p2, lbc_response_peer(resp));
  }
  CHECK(lbc_response_attempt_peer(resp, 3) == NULL, "index 3 not NULL");
  CHECK(lbc_response_attempt_peer(resp, -1) == NULL, "index -1 not NULL");
  const char *seen = trailer(resp, "x-previous-rpc-attempts");
  CHECK(seen && strcmp(seen, "2") == 0, "server saw grpc-previous-rpc-attempts %s", seen ? seen : "(none)");
  lbc_response_free(resp);
}

static void test_not_retried(lbc_channel *ch) {
  lbc_response *resp = call(ch, FAIL_METHOD, "3:bad request");
  if (resp) {
    CHECK(lbc_response_status(resp) == LBC_STATUS_INVALID_ARGUMENT, "status %d", lbc_response_status(resp));
    CHECK(lbc_response_attempts(resp) == 1, "attempts %d", lbc_response_attempts(resp));
    const char *seen = trailer(resp, "x-previous-rpc-attempts");
    CHECK(seen == NULL, "a first attempt sent grpc-previous-rpc-attempts %s", seen);
    lbc_response_free(resp);
  }
  resp = call(ch, WHOAMI, "");
  if (resp) {
    CHECK(lbc_response_status(resp) == LBC_STATUS_OK, "status %d", lbc_response_status(resp));
    CHECK(lbc_response_attempts(resp) == 1, "attempts %d", lbc_response_attempts(resp));
    CHECK(lbc_response_attempt_peer(resp, 0) && strcmp(lbc_response_attempt_peer(resp, 0), lbc_response_peer(resp)) == 0,
          "attempt 0 is not the peer");
    lbc_response_free(resp);
  }
}

static void test_stream_attempts(lbc_channel *ch) {
  lbc_call *c = NULL;
  int rc = lbc_call_start(ch, ECHO_STREAM, NULL, 5000, NULL, NULL, &c);
  CHECK(rc == LBC_OK, "lbc_call_start: %s", lbc_strerror(rc));
  if (rc != LBC_OK) return;
  rc = lbc_call_send(c, "m1", 2, LBC_SEND_END, 5000);
  CHECK(rc == LBC_OK, "lbc_call_send: %s", lbc_strerror(rc));
  void *msg = NULL;
  size_t len = 0;
  rc = lbc_call_recv(c, 5000, &msg, &len);
  CHECK(rc == LBC_OK && len == 5 && memcmp(msg, "b", 1) == 0, "lbc_call_recv: %d (%zu bytes)", rc, len);
  if (rc == LBC_OK) lbc_free(msg);
  int status = -1;
  rc = lbc_call_finish(c, 5000, &status, NULL, NULL);
  CHECK(rc == LBC_OK && status == LBC_STATUS_OK, "finish rc %d status %d", rc, status);
  CHECK(lbc_call_attempts(c) == 1, "stream attempts %d", lbc_call_attempts(c));
  const char *p = lbc_call_attempt_peer(c, 0);
  CHECK(p && strcmp(p, lbc_call_peer(c)) == 0, "stream attempt 0 %s != peer %s", p ? p : "(null)", lbc_call_peer(c));
  CHECK(lbc_call_attempt_peer(c, 1) == NULL, "stream index 1 not NULL");
  lbc_call_free(c);
}

static void test_null_and_setters(void) {
  CHECK(lbc_response_attempts(NULL) == 0, "NULL response attempts");
  CHECK(lbc_response_attempt_peer(NULL, 0) == NULL, "NULL response peer");
  CHECK(lbc_call_attempts(NULL) == 0, "NULL call attempts");
  CHECK(lbc_call_attempt_peer(NULL, 0) == NULL, "NULL call peer");
  CHECK(lbc_options_set_retry_policy(NULL, 3, 10, 50, 2, 1) == LBC_ERR_INVALID_ARGUMENT, "NULL opts");
  lbc_options *opts = NULL;
  if (lbc_options_new(&opts) != LBC_OK) return;
  CHECK(lbc_options_set_retry_policy(opts, 3, 100, 10, 2, 1) == LBC_ERR_INVALID_ARGUMENT, "max < initial accepted");
  CHECK(lbc_options_set_retry_policy(opts, 3, 10, 50, 2, 2) == LBC_ERR_INVALID_ARGUMENT, "jitter 2 accepted");
  CHECK(lbc_options_set_retry_throttle(opts, 2000, 0.1) == LBC_ERR_INVALID_ARGUMENT, "2000 tokens accepted");
  CHECK(lbc_options_set_retry_buffer_bytes(opts, -1) == LBC_ERR_INVALID_ARGUMENT, "negative buffer accepted");
  CHECK(lbc_options_set_retry_policy(opts, 3, 10, 50, 2, 1) == LBC_OK, "valid policy refused");
  CHECK(lbc_options_set_hedging(opts, 2, 50) == LBC_ERR_INVALID_ARGUMENT, "hedging with retries accepted");
  CHECK(strstr(lbc_last_errmsg(), "exclusive") != NULL, "message: %s", lbc_last_errmsg());
  CHECK(lbc_options_set(opts, "service_config", "{\"methodConfig\": [{\"name\": [{}], \"retryPolicy\": {}}]}")
            == LBC_ERR_INVALID_ARGUMENT, "bad service config accepted");
  CHECK(strstr(lbc_last_errmsg(), "methodConfig[0].retryPolicy.maxAttempts") != NULL, "message: %s", lbc_last_errmsg());
  CHECK(lbc_options_set_retry_throttle(opts, 10, 0.5) == LBC_OK, "valid throttle refused");
  lbc_options_free(opts);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s TARGET   (three test backends, see Tests/c/run.sh)\n", argv[0]);
    return 2;
  }
  test_null_and_setters();
  lbc_channel *ch = open_channel(argv[1]);
  CHECK(ch != NULL, "channel");
  if (ch) {
    test_retried_unavailable(ch);
    test_not_retried(ch);
    test_stream_attempts(ch);
    lbc_channel_close(ch);
  }
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
