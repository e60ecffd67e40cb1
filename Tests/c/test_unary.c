/*
 * test_unary.c — the C API of lbchannel, tested against real gRPC backends.
 *
 *   test_unary TARGET
 *
 * TARGET lists three running test backends (Tests/python/backend.py), e.g.
 * "ipv4:127.0.0.2:50051,127.0.0.3:50051,127.0.0.4:50051"; Tests/c/run.sh starts
 * them and passes the target. Prints one line per failed check and ends with
 * "N passed, M failed"; exits 1 if anything failed.
 *
 * Build: cc -Wall -Wextra -Werror -pthread test_unary.c $(pkg-config --cflags --libs lbchannel)
 */
#define _POSIX_C_SOURCE 200809L

#include <lbchannel.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* CHECK_STATUS(resp, expected): an RPC ended with the expected gRPC status. */
#define CHECK_STATUS(resp, expected)                                                    \
  do {                                                                                  \
    int st_ = lbc_response_status(resp);                                                \
    CHECK(st_ == (expected), "status %d %s (\"%s\"), expected %s", st_,                 \
          lbc_status_name(st_), lbc_response_message(resp), lbc_status_name(expected)); \
  } while (0)


/* ------------------------------------------------------------------------- */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------- */

static const char *g_target; /* three backends, from argv[1] */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Open a channel on g_target with the given lb_policy (and optional extra option). */
static lbc_channel *open_channel(const char *policy, const char *key, const char *value) {
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL;
  CHECK_RC(lbc_options_new(&opts), LBC_OK);
  if (!opts) return NULL;
  CHECK_RC(lbc_options_set(opts, "lb_policy", policy), LBC_OK);
  if (key) CHECK_RC(lbc_options_set(opts, key, value), LBC_OK);
  CHECK_RC(lbc_channel_open(g_target, opts, &ch), LBC_OK);
  lbc_options_free(opts);
  return ch;
}

static int count_substr(const char *haystack, const char *needle) {
  int n = 0;
  for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
  return n;
}

/* Wait until the stats report `want` READY endpoints (or timeout). Returns the count seen. */
static int wait_ready(lbc_channel *ch, int want, double timeout_s) {
  double end = now_s() + timeout_s;
  int ready = 0;
  for (;;) {
    char *json = NULL;
    if (lbc_channel_stats_json(ch, &json) == LBC_OK && json) {
      ready = count_substr(json, "\"READY\"");
      lbc_free(json);
    }
    if (ready >= want || now_s() > end) return ready;
    sleep_ms(20);
  }
}

/* Find `key` in md; returns its index or -1. */
static long md_find(const lbc_metadata *md, const char *key, const uint8_t **value, size_t *len) {
  size_t n = lbc_metadata_count(md);
  for (size_t i = 0; i < n; i++) {
    const char *k = NULL;
    const uint8_t *v = NULL;
    size_t vl = 0;
    if (lbc_metadata_get(md, i, &k, &v, &vl) == LBC_OK && k && strcmp(k, key) == 0) {
      if (value) *value = v;
      if (len) *len = vl;
      return (long)i;
    }
  }
  return -1;
}

/* Unary call with a string request; returns the response (NULL on an API error). */
static lbc_response *call(lbc_channel *ch, const char *method, const char *request,
                          const lbc_metadata *md, int64_t timeout_ms) {
  lbc_response *resp = NULL;
  int rc = lbc_unary(ch, method, request, request ? strlen(request) : 0, md, timeout_ms, &resp);
  CHECK(rc == LBC_OK && resp != NULL, "lbc_unary(%s) returned %d (%s): %s", method, rc,
        lbc_strerror(rc), lbc_last_errmsg());
  return rc == LBC_OK ? resp : NULL;
}

/* ------------------------------------------------------------------------- */
/* API-only tests (no backend needed)                                         */
/* ------------------------------------------------------------------------- */

TEST(test_version) {
  unsigned maj = 0, min = 0, pat = 0;
  CHECK(lbc_version() != NULL && strcmp(lbc_version(), LBC_VERSION) == 0,
        "lbc_version() \"%s\" != LBC_VERSION \"%s\"", lbc_version() ? lbc_version() : "(null)",
        LBC_VERSION);
  CHECK(lbc_version_num() == LBC_VERSION_NUM, "lbc_version_num() 0x%06x != LBC_VERSION_NUM 0x%06x",
        lbc_version_num(), LBC_VERSION_NUM);
  CHECK(sscanf(LBC_VERSION, "%u.%u.%u", &maj, &min, &pat) == 3, "LBC_VERSION is not x.y.z");
  CHECK((int)((maj << 16) | (min << 8) | pat) == LBC_VERSION_NUM,
        "LBC_VERSION \"%s\" and LBC_VERSION_NUM 0x%06x disagree", LBC_VERSION, LBC_VERSION_NUM);
}

TEST(test_strerror) {
  static const int codes[] = {LBC_OK,
                              LBC_ERR_INVALID_ARGUMENT,
                              LBC_ERR_INVALID_TARGET,
                              LBC_ERR_UNSUPPORTED,
                              LBC_ERR_UNKNOWN_OPTION,
                              LBC_ERR_CLOSED,
                              LBC_ERR_RESOURCE,
                              LBC_ERR_MESSAGE_TOO_LARGE,
                              LBC_ERR_INVALID_METADATA,
                              LBC_ERR_OUT_OF_RANGE,
                              LBC_ERR_INTERNAL,
                              LBC_ERR_RESOLUTION,
                              LBC_ERR_RECURSIVE_CALL};
  const size_t n = sizeof codes / sizeof codes[0];
  const char *unknown = lbc_strerror(-12345);
  CHECK(unknown != NULL && strcmp(unknown, "unknown error") == 0,
        "lbc_strerror(-12345) = \"%s\", expected \"unknown error\"", unknown ? unknown : "(null)");
  CHECK(lbc_strerror(1) != NULL && strcmp(lbc_strerror(1), "unknown error") == 0,
        "lbc_strerror(1) should be \"unknown error\"");
  for (size_t i = 0; i < n; i++) {
    const char *s = lbc_strerror(codes[i]);
    CHECK(s != NULL && s[0] != '\0', "lbc_strerror(%d) is empty", codes[i]);
    if (!s) continue;
    CHECK(strcmp(s, "unknown error") != 0, "lbc_strerror(%d) is \"unknown error\"", codes[i]);
    for (size_t j = 0; j < i; j++) {
      const char *t = lbc_strerror(codes[j]);
      CHECK(t == NULL || strcmp(s, t) != 0, "lbc_strerror(%d) == lbc_strerror(%d) = \"%s\"",
            codes[i], codes[j], s);
    }
  }
}

TEST(test_status_names) {
  static const char *names[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
                                "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
                                "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
                                "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
                                "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  for (int i = 0; i <= 16; i++) {
    const char *s = lbc_status_name(i);
    CHECK(s != NULL && strcmp(s, names[i]) == 0, "lbc_status_name(%d) = \"%s\", expected \"%s\"",
          i, s ? s : "(null)", names[i]);
  }
  CHECK(lbc_status_name(17) != NULL && strcmp(lbc_status_name(17), "UNKNOWN_CODE") == 0,
        "lbc_status_name(17) should be UNKNOWN_CODE");
  CHECK(lbc_status_name(-1) != NULL && strcmp(lbc_status_name(-1), "UNKNOWN_CODE") == 0,
        "lbc_status_name(-1) should be UNKNOWN_CODE");
}

TEST(test_options) {
  lbc_options *opts = NULL;
  static const char *good[][2] = {
      {"lb_policy", "least_request"},     {"lb_policy", "round_robin"},
      {"lb_policy", "pick_first"},        {"connect_timeout_ms", "5000"},
      {"wait_for_ready", "true"},         {"wait_for_ready", "0"},
      {"wait_for_ready", "1"},            {"wait_for_ready", "false"},
      {"max_send_message_size", "0"},     {"max_send_message_size", "2147483647"},
      {"max_receive_message_size", "8388608"},
      {"backoff_initial_ms", "500"},      {"backoff_multiplier", "1.0"},
      {"backoff_multiplier", "2.5"},      {"backoff_jitter", "0"},
      {"backoff_jitter", "1.0"},          {"backoff_max_ms", "60000"},
      {"authority", "svc.example:443"},   {"user_agent", "c-test/1.0"},
      {"discovery_interval_ms", "100"},   {"discovery_interval_ms", "10000"},
      {"min_reresolution_interval_ms", "0"},
      {"dns_use_ttl", "true"},            {"dns_ttl_floor_ms", "100"},
      {"dns_srv", "0"},                   {"dns_timeout_ms", "2000"},
      {"empty_answer", "keep"},           {"empty_answer", "apply"},
      {"resolution", "lazy"},             {"resolution", "eager"},
      {"eager_timeout_ms", "5000"},
      {"stream_window_bytes", "1024"},    {"stream_window_bytes", "2147483647"},
      {"stream_send_buffer_bytes", "0"},  {"stream_send_buffer_bytes", "65536"},
      /* balancing */
      {"lb_policy", "peak_ewma"},         {"lb_policy", "weighted_round_robin"},
      {"least_request_choice_count", "10"},
      {"peak_ewma_decay_ms", "1"},        {"outlier_consecutive_failures", "0"},
      {"outlier_consecutive_failures", "5"}, {"outlier_base_ejection_ms", "30000"},
      {"outlier_max_ejection_ms", "300000"}, {"outlier_max_ejection_percent", "100"},
      {"outlier_status_codes", "UNAVAILABLE,13"},
      {"outlier_failure_percentage", "85"}, {"outlier_interval_ms", "10000"},
      {"outlier_request_volume", "50"},
      {"slow_start_window_ms", "0"},      {"slow_start_window_ms", "30000"},
      {"slow_start_min_weight_percent", "1"},
      {"subset_size", "0"},               {"subset_size", "25"},
      {"subset_client_id", "frontend-7"},
  };
  static const char *bad[][2] = {
      {"lb_policy", "random"},
      {"lb_policy", ""},
      {"least_request_choice_count", "1"},
      {"peak_ewma_decay_ms", "0"},
      {"outlier_max_ejection_percent", "101"},
      {"outlier_status_codes", "OK"},
      {"outlier_status_codes", "14;13"},
      {"outlier_failure_percentage", "-1"},
      {"outlier_request_volume", "0"},
      {"slow_start_min_weight_percent", "0"},
      {"subset_size", "-1"},
      {"subset_client_id", ""},
      {"connect_timeout_ms", "0"},
      {"connect_timeout_ms", "-5"},
      {"connect_timeout_ms", "soon"},
      {"wait_for_ready", "maybe"},
      {"max_send_message_size", "-1"},
      {"max_receive_message_size", "2147483648"},
      {"backoff_initial_ms", "0"},
      {"backoff_multiplier", "0.5"},
      {"backoff_jitter", "1.5"},
      {"backoff_jitter", "-0.1"},
      {"discovery_interval_ms", "99"},
      {"min_reresolution_interval_ms", "-1"},
      {"dns_use_ttl", "sometimes"},
      {"dns_ttl_floor_ms", "99"},
      {"dns_timeout_ms", "0"},
      {"empty_answer", "drop"},
      {"resolution", "later"},
      {"eager_timeout_ms", "0"},
      {"stream_window_bytes", "1023"},
      {"stream_window_bytes", "2147483648"},
      {"stream_send_buffer_bytes", "-1"},
  };

  CHECK_RC(lbc_options_new(NULL), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_new(&opts), LBC_OK);
  CHECK(opts != NULL, "lbc_options_new gave NULL");
  if (!opts) return;

  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    int rc = lbc_options_set(opts, good[i][0], good[i][1]);
    CHECK(rc == LBC_OK, "lbc_options_set(%s, \"%s\") = %d (%s): %s", good[i][0], good[i][1], rc,
          lbc_strerror(rc), lbc_last_errmsg());
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = lbc_options_set(opts, bad[i][0], bad[i][1]);
    CHECK(rc == LBC_ERR_INVALID_ARGUMENT, "lbc_options_set(%s, \"%s\") = %d (%s), expected %s",
          bad[i][0], bad[i][1], rc, lbc_strerror(rc), lbc_strerror(LBC_ERR_INVALID_ARGUMENT));
    CHECK(lbc_last_errmsg() != NULL && lbc_last_errmsg()[0] != '\0',
          "no lbc_last_errmsg() after a bad value for %s", bad[i][0]);
  }

  /* backoff_max_ms must be >= backoff_initial_ms (set to 500 above). */
  CHECK_RC(lbc_options_set(opts, "backoff_max_ms", "100"), LBC_ERR_INVALID_ARGUMENT);

  CHECK_RC(lbc_options_set(opts, "no_such_option", "1"), LBC_ERR_UNKNOWN_OPTION);
  CHECK(lbc_last_errmsg()[0] != '\0', "no lbc_last_errmsg() after an unknown option");
  CHECK_RC(lbc_options_set(NULL, "lb_policy", "round_robin"), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set(opts, NULL, "round_robin"), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set(opts, "lb_policy", NULL), LBC_ERR_INVALID_ARGUMENT);

  /* Typed setters. */
  CHECK_RC(lbc_options_set_lb_policy(opts, LBC_LB_ROUND_ROBIN), LBC_OK);
  CHECK_RC(lbc_options_set_lb_policy(opts, LBC_LB_PEAK_EWMA), LBC_OK);
  CHECK_RC(lbc_options_set_lb_policy(opts, LBC_LB_WEIGHTED_ROUND_ROBIN), LBC_OK);
  CHECK_RC(lbc_options_set_lb_policy(opts, (lbc_lb_policy)5), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set_lb_policy(opts, (lbc_lb_policy)42), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set_lb_policy(NULL, LBC_LB_PICK_FIRST), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set_connect_timeout_ms(opts, 1000), LBC_OK);
  CHECK_RC(lbc_options_set_connect_timeout_ms(opts, 0), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set_wait_for_ready(opts, 1), LBC_OK);
  CHECK_RC(lbc_options_set_wait_for_ready(opts, 0), LBC_OK);
  CHECK_RC(lbc_options_set_max_message_sizes(opts, 1024, 1 << 20), LBC_OK);
  CHECK_RC(lbc_options_set_max_message_sizes(opts, -1, 1024), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set_max_message_sizes(opts, 1024, (int64_t)1 << 40), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set_backoff(opts, 1000, 1.6, 0.2, 120000), LBC_OK);
  CHECK_RC(lbc_options_set_backoff(opts, 1000, 0.5, 0.2, 120000), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set_backoff(opts, 1000, 1.6, 2.0, 120000), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set_backoff(opts, 1000, 1.6, 0.2, 10), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set_authority(opts, "svc.example:443"), LBC_OK);
  CHECK_RC(lbc_options_set_authority(opts, NULL), LBC_OK);
  CHECK_RC(lbc_options_set_keepalive(opts, 10000, 20000, 0), LBC_OK);
  CHECK_RC(lbc_options_set_keepalive(opts, 0, 20000, 1), LBC_OK);
  CHECK_RC(lbc_options_set_keepalive(opts, 99, 20000, 0), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set_keepalive(opts, 10000, 0, 0), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set_keepalive(opts, (int64_t)1 << 31, 20000, 0), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set_keepalive(NULL, 10000, 20000, 0), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set(opts, "keepalive_permit_without_calls", "yes"), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set(opts, "keepalive_time_ms", "30000"), LBC_OK);

  lbc_options_free(opts);
}

TEST(test_metadata) {
  lbc_metadata *md = NULL;
  const char *key = (const char *)0x1;
  const uint8_t *value = (const uint8_t *)0x1;
  size_t len = 7;
  static const uint8_t bin[] = {0x00, 0xff, 0x7f, 0x80};

  CHECK_RC(lbc_metadata_new(NULL), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_metadata_new(&md), LBC_OK);
  if (!md) return;
  CHECK(lbc_metadata_count(md) == 0, "new metadata is not empty");
  CHECK(lbc_metadata_count(NULL) == 0, "lbc_metadata_count(NULL) != 0");

  CHECK_RC(lbc_metadata_add(md, "x-ascii", "hello", 5), LBC_OK);
  CHECK_RC(lbc_metadata_add(md, "x-data-bin", bin, sizeof bin), LBC_OK);
  CHECK_RC(lbc_metadata_add(md, "x-empty", NULL, 0), LBC_OK);
  CHECK(lbc_metadata_count(md) == 3, "count %zu, expected 3", lbc_metadata_count(md));

  CHECK_RC(lbc_metadata_get(md, 1, &key, &value, &len), LBC_OK);
  CHECK(key && strcmp(key, "x-data-bin") == 0, "get(1) key \"%s\"", key ? key : "(null)");
  CHECK(len == sizeof bin && value && memcmp(value, bin, sizeof bin) == 0,
        "get(1) value does not round-trip (len %zu)", len);
  CHECK_RC(lbc_metadata_get(md, 0, &key, &value, &len), LBC_OK);
  CHECK(len == 5 && value && strcmp((const char *)value, "hello") == 0,
        "ASCII value not NUL-terminated \"hello\"");

  /* Out of range / NULL: error and out-parameters untouched. */
  key = (const char *)0x1;
  CHECK_RC(lbc_metadata_get(md, 3, &key, &value, &len), LBC_ERR_OUT_OF_RANGE);
  CHECK(key == (const char *)0x1, "out-parameter changed on failure");
  CHECK_RC(lbc_metadata_get(NULL, 0, &key, &value, &len), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_metadata_add(NULL, "x-a", "b", 1), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_metadata_add(md, NULL, "b", 1), LBC_ERR_INVALID_ARGUMENT);

  /* Keys and values gRPC does not allow. */
  CHECK_RC(lbc_metadata_add(md, "Bad Key", "v", 1), LBC_ERR_INVALID_METADATA);
  CHECK(lbc_last_errmsg()[0] != '\0', "no lbc_last_errmsg() after an invalid key");
  CHECK_RC(lbc_metadata_add(md, "", "v", 1), LBC_ERR_INVALID_METADATA);
  CHECK_RC(lbc_metadata_add(md, "X-Upper", "v", 1), LBC_ERR_INVALID_METADATA);
  CHECK_RC(lbc_metadata_add(md, "grpc-timeout", "1S", 2), LBC_ERR_INVALID_METADATA);
  CHECK_RC(lbc_metadata_add(md, ":path", "/x", 2), LBC_ERR_INVALID_METADATA);
  CHECK_RC(lbc_metadata_add(md, "content-type", "application/grpc", 16), LBC_ERR_INVALID_METADATA);
  CHECK_RC(lbc_metadata_add(md, "te", "trailers", 8), LBC_ERR_INVALID_METADATA);
  CHECK_RC(lbc_metadata_add(md, "x-ascii", "line\nbreak", 10), LBC_ERR_INVALID_METADATA);
  CHECK_RC(lbc_metadata_add(md, "x-ascii", bin, sizeof bin), LBC_ERR_INVALID_METADATA);
  CHECK(lbc_metadata_count(md) == 3, "a failed add changed the metadata (count %zu)",
        lbc_metadata_count(md));

  lbc_metadata_free(md);
}

TEST(test_null_destructors) {
  /* Each must simply return. */
  lbc_options_free(NULL);
  lbc_metadata_free(NULL);
  lbc_response_free(NULL);
  lbc_channel_close(NULL);
  lbc_free(NULL);
  CHECK(1, "unreachable");
  CHECK(lbc_response_status(NULL) == LBC_STATUS_INVALID_ARGUMENT,
        "lbc_response_status(NULL) = %d", lbc_response_status(NULL));
}

TEST(test_bad_targets) {
  static const char *invalid[] = {
      "ipv4:",
      "ipv4:300.1.1.1:80",
      "ipv4:1.2.3:80",
      "ipv4:127.0.0.1:notaport",
      "ipv4:127.0.0.1:70000",
      "ipv4:127.0.0.1:80,,",
      "ipv6:[::1",
      "ipv6:[zz::1]:80",
      "ipv6:[::1]:99999",
  };
  lbc_channel *sentinel = (lbc_channel *)0x1;
  lbc_channel *ch = sentinel;

  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    int rc = lbc_channel_open(invalid[i], NULL, &ch);
    CHECK(rc == LBC_ERR_INVALID_TARGET, "open(\"%s\") = %d (%s), expected %s", invalid[i], rc,
          lbc_strerror(rc), lbc_strerror(LBC_ERR_INVALID_TARGET));
    CHECK(rc == LBC_OK || lbc_last_errmsg()[0] != '\0', "no message for target \"%s\"", invalid[i]);
    if (rc == LBC_OK) {
      lbc_channel_close(ch);
      ch = sentinel;
    }
    CHECK(ch == sentinel, "out-parameter written on failure for \"%s\"", invalid[i]);
  }
  CHECK_RC(lbc_channel_open("xds:///svc", NULL, &ch), LBC_ERR_UNSUPPORTED);
  CHECK(strstr(lbc_last_errmsg(), "xds") != NULL, "message \"%s\" does not name the scheme", lbc_last_errmsg());
  CHECK_RC(lbc_channel_open(NULL, NULL, &ch), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_channel_open("ipv4:127.0.0.1:1", NULL, NULL), LBC_ERR_INVALID_ARGUMENT);
  CHECK(ch == sentinel, "out-parameter written on failure");
}

/* dns: targets, pointed at a DNS server address where nothing answers (no traffic
 * leaves the machine): lazy open returns at once, eager open gives up in time. */
TEST(test_dns_targets) {
  char target[128];
  lbc_channel *sentinel = (lbc_channel *)0x1, *ch = sentinel;
  lbc_options *opts = NULL;
  int port = unused_port();
  snprintf(target, sizeof target, "dns://127.0.0.1:%d/svc.test:50051", port);

  double t0 = now_s();
  CHECK_RC(lbc_channel_open(target, NULL, &ch), LBC_OK);
  CHECK(now_s() - t0 < 1.0, "lazy open of %s took %.3f s", target, now_s() - t0);
  if (ch != sentinel) lbc_channel_close(ch);
  ch = sentinel;

  CHECK_RC(lbc_options_new(&opts), LBC_OK);
  if (!opts) return;
  CHECK_RC(lbc_options_set(opts, "resolution", "eager"), LBC_OK);
  CHECK_RC(lbc_options_set(opts, "eager_timeout_ms", "300"), LBC_OK);
  CHECK_RC(lbc_options_set(opts, "dns_timeout_ms", "100"), LBC_OK);
  t0 = now_s();
  int rc = lbc_channel_open(target, opts, &ch);
  double dt = now_s() - t0;
  CHECK(rc == LBC_ERR_RESOLUTION, "eager open of %s = %d (%s), expected %s", target, rc,
        lbc_strerror(rc), lbc_strerror(LBC_ERR_RESOLUTION));
  CHECK(rc != LBC_ERR_RESOLUTION || lbc_last_errmsg()[0] != '\0', "no message for the failed resolution");
  CHECK(dt < 3.0, "eager open with eager_timeout_ms=300 took %.3f s", dt);
  if (rc == LBC_OK) lbc_channel_close(ch);
  else CHECK(ch == sentinel, "out-parameter written on failure");
  lbc_options_free(opts);
}

/* ------------------------------------------------------------------------- */
/* Tests against the backends                                                 */
/* ------------------------------------------------------------------------- */

TEST(test_round_robin_spread) {
  enum { CALLS = 300, MAXB = 8 };
  char names[MAXB][64];
  int counts[MAXB] = {0};
  int distinct = 0, ok = 0, peers_ok = 0;
  char *json = NULL;
  lbc_channel *ch = open_channel("round_robin", NULL, NULL);
  if (!ch) return;

  int ready = wait_ready(ch, 3, 10.0);
  CHECK(ready == 3, "only %d of 3 endpoints READY after 10 s", ready);

  for (int i = 0; i < CALLS; i++) {
    lbc_response *resp = call(ch, "/lbtest.Test/Whoami", NULL, NULL, 5000);
    if (!resp) continue;
    if (lbc_response_status(resp) == LBC_STATUS_OK) {
      size_t len = 0;
      const uint8_t *data = lbc_response_data(resp, &len);
      const char *peer = lbc_response_peer(resp);
      char name[64];
      int j;
      ok++;
      if (peer && peer[0] != '\0' && strstr(g_target, peer) != NULL) peers_ok++;
      if (len >= sizeof name) len = sizeof name - 1;
      memcpy(name, data ? (const char *)data : "", len);
      name[len] = '\0';
      for (j = 0; j < distinct && strcmp(names[j], name) != 0; j++) {
      }
      if (j == distinct && distinct < MAXB) strcpy(names[distinct++], name);
      if (j < MAXB) counts[j]++;
    } else {
      CHECK_STATUS(resp, LBC_STATUS_OK);
    }
    lbc_response_free(resp);
  }
  CHECK(ok == CALLS, "%d of %d Whoami calls OK", ok, CALLS);
  CHECK(peers_ok == ok, "%d of %d responses had a peer address from the target", peers_ok, ok);
  CHECK(distinct == 3, "responses came from %d distinct backends, expected 3", distinct);
  for (int j = 0; j < distinct; j++) {
    printf("    %-8s %d\n", names[j], counts[j]);
    CHECK(counts[j] == CALLS / 3, "backend %s served %d calls, expected %d", names[j], counts[j],
          CALLS / 3);
  }

  CHECK_RC(lbc_channel_stats_json(ch, &json), LBC_OK);
  CHECK(json != NULL && strstr(json, "READY") != NULL, "stats JSON without READY: %s",
        json ? json : "(null)");
  CHECK(json == NULL || strstr(json, "round_robin") != NULL, "stats JSON without the policy: %s",
        json ? json : "(null)");
  lbc_free(json);
  CHECK_RC(lbc_channel_stats_json(ch, NULL), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_channel_stats_json(NULL, &json), LBC_ERR_INVALID_ARGUMENT);
  lbc_channel_close(ch);
}

TEST(test_other_policies) {
  static const char *policies[] = {"least_request", "pick_first", "peak_ewma"};
  for (size_t p = 0; p < sizeof policies / sizeof policies[0]; p++) {
    lbc_channel *ch = open_channel(policies[p], NULL, NULL);
    int ok = 0;
    if (!ch) continue;
    for (int i = 0; i < 30; i++) {
      lbc_response *resp = call(ch, "/lbtest.Test/Whoami", NULL, NULL, 5000);
      if (resp && lbc_response_status(resp) == LBC_STATUS_OK) ok++;
      lbc_response_free(resp);
    }
    CHECK(ok == 30, "%s: %d of 30 calls OK", policies[p], ok);
    lbc_channel_close(ch);
  }
}

TEST(test_echo_metadata) {
  static const uint8_t bin[] = {0x00, 0xff, 0x00, 0x41, 0xff};
  lbc_metadata *md = NULL;
  lbc_channel *ch = open_channel("round_robin", NULL, NULL);
  const uint8_t *v = NULL;
  size_t vl = 0;
  if (!ch) return;
  CHECK_RC(lbc_metadata_new(&md), LBC_OK);
  CHECK_RC(lbc_metadata_add(md, "x-trace-id", "abc-123", 7), LBC_OK);
  CHECK_RC(lbc_metadata_add(md, "x-blob-bin", bin, sizeof bin), LBC_OK);

  lbc_response *resp = call(ch, "/lbtest.Test/Echo", "ping", md, 5000);
  if (resp) {
    size_t len = 0;
    const uint8_t *data = lbc_response_data(resp, &len);
    const lbc_metadata *hdrs = lbc_response_headers(resp);
    const lbc_metadata *trls = lbc_response_trailers(resp);
    CHECK_STATUS(resp, LBC_STATUS_OK);
    CHECK(len == 4 && data && memcmp(data, "ping", 4) == 0, "Echo body wrong (len %zu)", len);
    CHECK(hdrs != NULL && trls != NULL, "headers/trailers NULL");

    CHECK(md_find(hdrs, "x-trace-id", &v, &vl) >= 0 && vl == 7 && memcmp(v, "abc-123", 7) == 0,
          "x-trace-id not echoed in headers");
    CHECK(md_find(hdrs, "x-blob-bin", &v, &vl) >= 0 && vl == sizeof bin &&
              memcmp(v, bin, sizeof bin) == 0,
          "x-blob-bin not echoed byte-exact in headers (len %zu)", vl);
    CHECK(md_find(trls, "trailer-x-trace-id", &v, &vl) >= 0 && vl == 7 &&
              memcmp(v, "abc-123", 7) == 0,
          "trailer-x-trace-id missing in trailers");
    CHECK(md_find(trls, "trailer-x-blob-bin", &v, &vl) >= 0 && vl == sizeof bin &&
              memcmp(v, bin, sizeof bin) == 0,
          "trailer-x-blob-bin not byte-exact in trailers (len %zu)", vl);
    CHECK(md_find(trls, "x-backend", &v, &vl) >= 0 && vl > 0, "x-backend missing in trailers");
    CHECK(md_find(trls, "grpc-status", NULL, NULL) < 0, "grpc-status left in trailers");
    CHECK(md_find(trls, "grpc-message", NULL, NULL) < 0, "grpc-message left in trailers");
    lbc_response_free(resp);
  }
  lbc_metadata_free(md);
  lbc_channel_close(ch);
}

struct errmsg_reader {
  lbc_channel *ch;
  char text[1024];
  int rc;
};

static void *read_errmsg_elsewhere(void *arg) {
  struct errmsg_reader *rd = arg;
  rd->rc = lbc_channel_errmsg_copy(rd->ch, rd->text, sizeof rd->text);
  return NULL;
}

TEST(test_statuses) {
  lbc_channel *ch = open_channel("round_robin", NULL, NULL);
  lbc_response *resp;
  if (!ch) return;

  resp = call(ch, "/lbtest.Test/Fail", "5:no such thing", NULL, 5000);
  if (resp) {
    size_t len = 99;
    CHECK_STATUS(resp, LBC_STATUS_NOT_FOUND);
    CHECK(strcmp(lbc_response_message(resp), "no such thing") == 0, "message \"%s\"",
          lbc_response_message(resp));
    CHECK(lbc_response_data(resp, &len) == NULL && len == 0, "error response carries data");
    CHECK(lbc_response_peer(resp)[0] != '\0', "no peer on an error status");
    lbc_response_free(resp);
  }

  /* A status message that needs percent-encoding on the wire. */
  resp = call(ch, "/lbtest.Test/Fail", "9:caf\xc3\xa9 100% \xe2\x9c\x93", NULL, 5000);
  if (resp) {
    CHECK_STATUS(resp, LBC_STATUS_FAILED_PRECONDITION);
    CHECK(strcmp(lbc_response_message(resp), "caf\xc3\xa9 100% \xe2\x9c\x93") == 0,
          "UTF-8 message \"%s\"", lbc_response_message(resp));
    lbc_response_free(resp);
  }

  resp = call(ch, "/lbtest.Test/NoSuchMethod", "x", NULL, 5000);
  if (resp) {
    CHECK_STATUS(resp, LBC_STATUS_UNIMPLEMENTED);
    lbc_response_free(resp);
  }

  double t0 = now_s();
  resp = call(ch, "/lbtest.Test/Sleep", "2000", NULL, 200);
  double dt = now_s() - t0;
  if (resp) {
    CHECK_STATUS(resp, LBC_STATUS_DEADLINE_EXCEEDED);
    lbc_response_free(resp);
  }
  CHECK(dt < 1.0, "Sleep 2000 with a 200 ms deadline returned after %.3f s", dt);
  CHECK(dt >= 0.15, "Sleep 2000 with a 200 ms deadline returned after only %.3f s", dt);

  resp = call(ch, "/lbtest.Test/Sleep", "50", NULL, 5000);
  if (resp) {
    CHECK_STATUS(resp, LBC_STATUS_OK);
    lbc_response_free(resp);
  }

  resp = call(ch, "/lbtest.Test/Size", "100000", NULL, 5000);
  if (resp) {
    size_t len = 0;
    CHECK_STATUS(resp, LBC_STATUS_OK);
    CHECK(lbc_response_data(resp, &len) != NULL && len == 100000, "Size 100000 gave %zu bytes",
          len);
    lbc_response_free(resp);
  }

  /* API misuse: error codes, no RPC. */
  lbc_response *sentinel = (lbc_response *)0x1, *out = sentinel;
  CHECK_RC(lbc_unary(ch, "/lbtest.Test/Whoami", NULL, 0, NULL, 1000, NULL),
           LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_unary(ch, NULL, NULL, 0, NULL, 1000, &out), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_unary(ch, "lbtest.Test/Whoami", NULL, 0, NULL, 1000, &out),
           LBC_ERR_INVALID_ARGUMENT);
  CHECK(lbc_channel_errmsg(ch)[0] != '\0', "lbc_channel_errmsg empty after a failing call");
  CHECK(strcmp(lbc_channel_errmsg(ch), lbc_last_errmsg()) == 0,
        "lbc_channel_errmsg \"%s\" != lbc_last_errmsg \"%s\"", lbc_channel_errmsg(ch),
        lbc_last_errmsg());
  CHECK_RC(lbc_unary(NULL, "/lbtest.Test/Whoami", NULL, 0, NULL, 1000, &out),
           LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_unary(ch, "/lbtest.Test/Echo", NULL, 10, NULL, 1000, &out),
           LBC_ERR_INVALID_ARGUMENT);
  CHECK(out == sentinel, "out-parameter written on failure");

  /* The channel's last failure, read from another OS thread (what a goroutine that
     moved to another thread sees): the failing thread's exact message. */
  struct errmsg_reader rd = {ch, {0}, -99};
  CHECK_RC(lbc_unary(ch, "/no-service\tHere", NULL, 0, NULL, 1000, &out), LBC_ERR_INVALID_ARGUMENT);
  char expected[1024];
  snprintf(expected, sizeof expected, "%s", lbc_last_errmsg());
  pthread_t th;
  pthread_create(&th, NULL, read_errmsg_elsewhere, &rd);
  pthread_join(th, NULL);
  CHECK(rd.rc == (int)strlen(expected) && strcmp(rd.text, expected) == 0,
        "from another thread: rc %d \"%s\", expected \"%s\"", rd.rc, rd.text, expected);
  CHECK(strstr(expected, "0x09") != NULL, "message does not name the bad byte: %s", expected);
  char small[8];
  CHECK(lbc_channel_errmsg_copy(ch, small, sizeof small) == (int)strlen(expected) &&
            strlen(small) == 7 && strncmp(small, expected, 7) == 0,
        "cut copy \"%s\"", small);
  CHECK(lbc_channel_errmsg_copy(ch, NULL, 0) == (int)strlen(expected), "length query");
  CHECK_RC(lbc_channel_errmsg_copy(ch, NULL, 5), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_channel_errmsg_copy(NULL, small, sizeof small), LBC_ERR_INVALID_ARGUMENT);
  CHECK(lbc_channel_errmsg_copy(ch, small, sizeof small) == (int)strlen(expected),
        "a failed copy on another handle changed the channel's message");

  lbc_channel_close(ch);
  CHECK_RC(lbc_channel_errmsg_copy(ch, small, sizeof small), LBC_ERR_CLOSED);
}

TEST(test_large_messages) {
  const size_t big = 4u << 20; /* 4 MiB */
  uint8_t *buf = malloc(big);
  lbc_response *resp = NULL;
  int rc;
  lbc_channel *ch = open_channel("round_robin", "max_receive_message_size", "16777216");
  if (!ch || !buf) {
    free(buf);
    lbc_channel_close(ch);
    return;
  }
  for (size_t i = 0; i < big; i++) buf[i] = (uint8_t)(i * 7 + (i >> 13));

  rc = lbc_unary(ch, "/lbtest.Test/Echo", buf, big, NULL, 20000, &resp);
  CHECK(rc == LBC_OK, "4 MiB Echo: %d (%s) %s", rc, lbc_strerror(rc), lbc_last_errmsg());
  if (rc == LBC_OK) {
    size_t len = 0;
    const uint8_t *data = lbc_response_data(resp, &len);
    CHECK_STATUS(resp, LBC_STATUS_OK);
    CHECK(len == big && data && memcmp(data, buf, big) == 0, "4 MiB Echo: %zu bytes back, %s",
          len, data && len == big ? "content differs" : "wrong size");
    lbc_response_free(resp);
  }
  lbc_channel_close(ch);

  /* Above max_send_message_size: refused locally, no RPC. */
  ch = open_channel("round_robin", "max_send_message_size", "1024");
  if (ch) {
    resp = NULL;
    CHECK_RC(lbc_unary(ch, "/lbtest.Test/Echo", buf, 1025, NULL, 5000, &resp),
             LBC_ERR_MESSAGE_TOO_LARGE);
    CHECK(resp == NULL, "out-parameter written on failure");
    resp = call(ch, "/lbtest.Test/Echo", "small", NULL, 5000);
    if (resp) CHECK_STATUS(resp, LBC_STATUS_OK);
    lbc_response_free(resp);
    lbc_channel_close(ch);
  }
  free(buf);
}

TEST(test_close) {
  lbc_response *resp = NULL;
  char *json = NULL;
  lbc_channel *ch = open_channel("round_robin", NULL, NULL);
  if (!ch) return;
  resp = call(ch, "/lbtest.Test/Whoami", NULL, NULL, 5000);
  lbc_response_free(resp);
  resp = NULL;

  lbc_channel_close(ch);
  /* Documented best effort: a closed handle is detected while its address is not reused. */
  CHECK_RC(lbc_unary(ch, "/lbtest.Test/Whoami", NULL, 0, NULL, 1000, &resp), LBC_ERR_CLOSED);
  CHECK(resp == NULL, "out-parameter written on a closed channel");
  CHECK_RC(lbc_channel_stats_json(ch, &json), LBC_ERR_CLOSED);
  lbc_channel_close(ch); /* twice: harmless */
  CHECK(1, "unreachable");
}

TEST(test_unavailable) {
  char target[128];
  lbc_channel *ch = NULL;
  lbc_options *opts = NULL;
  int p1 = unused_port(), p2 = unused_port();
  CHECK(p1 > 0 && p2 > 0, "could not find unused ports");
  snprintf(target, sizeof target, "ipv4:127.0.0.1:%d,127.0.0.1:%d", p1, p2);
  CHECK_RC(lbc_options_new(&opts), LBC_OK);
  CHECK_RC(lbc_options_set(opts, "lb_policy", "round_robin"), LBC_OK);
  CHECK_RC(lbc_channel_open(target, opts, &ch), LBC_OK);
  lbc_options_free(opts);
  if (!ch) return;

  double t0 = now_s();
  lbc_response *resp = call(ch, "/lbtest.Test/Whoami", NULL, NULL, 10000);
  double dt = now_s() - t0;
  if (resp) {
    CHECK_STATUS(resp, LBC_STATUS_UNAVAILABLE);
    CHECK(lbc_response_message(resp)[0] != '\0', "UNAVAILABLE without a message");
    lbc_response_free(resp);
  }
  CHECK(dt < 2.0, "UNAVAILABLE took %.3f s (> 2 s)", dt);
  lbc_channel_close(ch);
}

/* Count of `needle` in the stats JSON (0 when it cannot be read). */
static int stats_count(lbc_channel *ch, const char *needle) {
  char *json = NULL;
  int n = 0;
  if (lbc_channel_stats_json(ch, &json) == LBC_OK && json) {
    n = count_substr(json, needle);
    lbc_free(json);
  }
  return n;
}

/* Wait until the stats JSON holds `needle` `want` times (or timeout); returns the count. */
static int wait_stats_count(lbc_channel *ch, const char *needle, int want, double timeout_s) {
  double end = now_s() + timeout_s;
  for (;;) {
    int n = stats_count(ch, needle);
    if (n >= want || now_s() > end) return n;
    sleep_ms(10);
  }
}

/* grpc.health.v1 health checking: the backends serve lbtest.Test as SERVING
 * (run.sh starts them with LBTEST_HEALTH=SERVING); an unknown service is
 * SERVICE_UNKNOWN, i.e. not serving. Closing a channel with open watch streams. */
TEST(test_health_checking) {
  lbc_options *opts = NULL;
  CHECK_RC(lbc_options_new(&opts), LBC_OK);
  CHECK_RC(lbc_options_set(opts, "health_check_service", "a\nb"), LBC_ERR_INVALID_ARGUMENT);
  lbc_options_free(opts);

  lbc_channel *ch = open_channel("round_robin", "health_check_service", "lbtest.Test");
  if (!ch) return;
  int serving = wait_stats_count(ch, "\"health\":\"SERVING\"", 3, 10.0);
  CHECK(serving == 3, "only %d of 3 endpoints SERVING after 10 s", serving);
  int ok = 0;
  for (int i = 0; i < 30; i++) {
    lbc_response *resp = call(ch, "/lbtest.Test/Whoami", NULL, NULL, 5000);
    if (!resp) continue;
    if (lbc_response_status(resp) == LBC_STATUS_OK) ok++;
    lbc_response_free(resp);
  }
  CHECK(ok == 30, "%d of 30 calls OK with health checking", ok);
  /* The watch streams are no calls: the stats count only the 30. */
  char *json = NULL;
  CHECK_RC(lbc_channel_stats_json(ch, &json), LBC_OK);
  CHECK(json && count_substr(json, "\"calls_started\":10") == 3, "calls_started is not 10 each: %s",
        json ? json : "(null)");
  lbc_free(json);
  lbc_channel_close(ch);  /* with three open watch streams */

  ch = open_channel("round_robin", "health_check_service", "no.such.Service");
  if (!ch) return;
  int not_serving = wait_stats_count(ch, "\"health\":\"NOT_SERVING\"", 3, 10.0);
  CHECK(not_serving == 3, "only %d of 3 endpoints NOT_SERVING after 10 s", not_serving);
  double t0 = now_s();
  lbc_response *resp = call(ch, "/lbtest.Test/Whoami", NULL, NULL, 5000);
  if (resp) {
    CHECK_STATUS(resp, LBC_STATUS_UNAVAILABLE);
    CHECK(strstr(lbc_response_message(resp), "NOT_SERVING") != NULL, "message: %s", lbc_response_message(resp));
    lbc_response_free(resp);
  }
  CHECK(now_s() - t0 < 2.0, "UNAVAILABLE took %.3f s", now_s() - t0);
  lbc_channel_close(ch);
}

/* The backend addresses of g_target ("ipv4:A,B,C" -> "A", "B", "C"). */
static char g_addr_buf[256];
static const char *g_addrs[3];

static int split_target(void) {
  const char *list = strncmp(g_target, "ipv4:", 5) == 0 ? g_target + 5 : g_target;
  int n = 0;
  snprintf(g_addr_buf, sizeof g_addr_buf, "%s", list);
  for (char *save = NULL, *tok = strtok_r(g_addr_buf, ",", &save); tok && n < 3;
       tok = strtok_r(NULL, ",", &save))
    g_addrs[n++] = tok;
  return n;
}

/* `calls` Whoami calls; fills counts[3] by the peer's index in g_addrs. Returns the OK count. */
static int spread(lbc_channel *ch, int calls, int counts[3]) {
  int ok = 0;
  counts[0] = counts[1] = counts[2] = 0;
  for (int i = 0; i < calls; i++) {
    lbc_response *resp = call(ch, "/lbtest.Test/Whoami", NULL, NULL, 5000);
    if (resp && lbc_response_status(resp) == LBC_STATUS_OK) {
      ok++;
      for (int j = 0; j < 3; j++)
        if (strcmp(lbc_response_peer(resp), g_addrs[j]) == 0) counts[j]++;
    }
    lbc_response_free(resp);
  }
  return ok;
}

TEST(test_push_endpoints) {
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL;
  int counts[3];
  if (split_target() != 3) {
    CHECK(0, "target %s does not list three ipv4 backends", g_target);
    return;
  }
  CHECK_RC(lbc_options_new(&opts), LBC_OK);
  CHECK_RC(lbc_options_set(opts, "lb_policy", "round_robin"), LBC_OK);
  CHECK_RC(lbc_channel_open("manual:", opts, &ch), LBC_OK);
  lbc_options_free(opts);
  if (!ch) return;

  CHECK_RC(lbc_channel_set_endpoints(ch, g_addrs, 3), LBC_OK);
  CHECK(wait_ready(ch, 3, 10.0) == 3, "pushed endpoints not READY");
  CHECK(spread(ch, 30, counts) == 30, "calls failed after pushing three endpoints");
  CHECK(counts[0] == 10 && counts[1] == 10 && counts[2] == 10,
        "after pushing three: %d/%d/%d, expected 10 each", counts[0], counts[1], counts[2]);

  CHECK_RC(lbc_channel_set_endpoints(ch, g_addrs + 2, 1), LBC_OK);
  CHECK(spread(ch, 20, counts) == 20, "calls failed after pushing one endpoint");
  CHECK(counts[2] == 20, "after pushing only %s: %d/%d/%d", g_addrs[2], counts[0], counts[1],
        counts[2]);

  /* Validated first: nothing changes on error. */
  const char *bad[] = {g_addrs[0], "not an address"};
  CHECK_RC(lbc_channel_set_endpoints(ch, bad, 2), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_channel_set_endpoints(ch, NULL, 2), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_channel_set_endpoints(NULL, g_addrs, 1), LBC_ERR_INVALID_ARGUMENT);
  CHECK(spread(ch, 10, counts) == 10 && counts[2] == 10,
        "a rejected push changed the set: %d/%d/%d", counts[0], counts[1], counts[2]);
  lbc_channel_close(ch);
}

struct lookup_state {
  pthread_mutex_t lock;
  int answer; /* how many of g_addrs to return */
  int calls;
  char target[64];
};

static int lookup_cb(const char *target, lbc_address_list *out, void *user_data) {
  struct lookup_state *st = user_data;
  pthread_mutex_lock(&st->lock);
  st->calls++;
  snprintf(st->target, sizeof st->target, "%s", target ? target : "(null)");
  int n = st->answer;
  pthread_mutex_unlock(&st->lock);
  for (int i = 0; i < n; i++)
    if (lbc_address_list_add(out, g_addrs[i]) != LBC_OK) return 1;
  return 0;
}

static int g_log_lines, g_log_bad_level;
static void log_cb(int level, const char *message, void *user_data) {
  (void)user_data;
  pthread_mutex_lock(&g_lock);
  g_log_lines++;
  if (level < LBC_LOG_DEBUG || level > LBC_LOG_ERROR || !message) g_log_bad_level++;
  pthread_mutex_unlock(&g_lock);
}

TEST(test_lookup_callback) {
  struct lookup_state st = {PTHREAD_MUTEX_INITIALIZER, 3, 0, ""};
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL;
  int counts[3], ok;
  if (split_target() != 3) return;
  CHECK_RC(lbc_options_new(&opts), LBC_OK);
  CHECK_RC(lbc_options_set(opts, "lb_policy", "round_robin"), LBC_OK);
  CHECK_RC(lbc_options_set(opts, "discovery_interval_ms", "100"), LBC_OK);
  CHECK_RC(lbc_options_set_lookup(opts, lookup_cb, &st), LBC_OK);
  CHECK_RC(lbc_options_set_log_callback(opts, log_cb, NULL), LBC_OK);
  CHECK_RC(lbc_options_set_lookup(NULL, lookup_cb, &st), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_channel_open("my-registry/svc", opts, &ch), LBC_OK);
  lbc_options_free(opts);
  if (!ch) return;

  CHECK(wait_ready(ch, 3, 10.0) == 3, "endpoints from the lookup not READY");
  ok = spread(ch, 30, counts);
  CHECK(ok == 30 && counts[0] == 10 && counts[1] == 10 && counts[2] == 10,
        "lookup of three: %d OK, %d/%d/%d", ok, counts[0], counts[1], counts[2]);
  pthread_mutex_lock(&st.lock);
  CHECK(st.calls >= 1 && strcmp(st.target, "my-registry/svc") == 0,
        "lookup called %d times with target \"%s\"", st.calls, st.target);
  st.answer = 1;
  int calls_before = st.calls;
  pthread_mutex_unlock(&st.lock);

  /* Re-resolution every 100 ms: the two dropped endpoints drain away. */
  double end = now_s() + 5.0;
  do {
    sleep_ms(100);
    ok = spread(ch, 6, counts);
  } while ((counts[1] || counts[2]) && now_s() < end);
  pthread_mutex_lock(&st.lock);
  CHECK(st.calls > calls_before, "lookup not called again within 5 s (%d calls)", st.calls);
  pthread_mutex_unlock(&st.lock);
  ok = spread(ch, 20, counts);
  CHECK(ok == 20 && counts[0] == 20, "after the lookup shrank to one: %d OK, %d/%d/%d", ok,
        counts[0], counts[1], counts[2]);
  lbc_channel_close(ch); /* waits for a running lookup: st may go out of scope after */
  CHECK(g_log_bad_level == 0, "log callback got %d bad lines", g_log_bad_level);
}

/* Wait up to `seconds` for *flag (guarded by lock) to become non-zero; returns it. */
static int wait_flag(pthread_mutex_t *lock, const int *flag, double seconds) {
  double deadline = now_s() + seconds;
  int value = 0;
  while (!value && now_s() < deadline) {
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
    pthread_mutex_lock(lock);
    value = *flag;
    pthread_mutex_unlock(lock);
  }
  return value;
}

/* lbc_channel_close() from the channel's own lookup callback returns at once; no
   callback runs after that one returns; the handle is closed for everyone else. */
struct self_close {
  pthread_mutex_t lock;
  lbc_channel *ch;  /* set once open returned */
  int calls;        /* lookup calls */
  int closed;       /* the callback closed the channel */
  int after_close;  /* callbacks that started after the close */
  double close_seconds;
};

static int self_closing_lookup(const char *target, lbc_address_list *out, void *user_data) {
  (void)target;
  struct self_close *st = user_data;
  pthread_mutex_lock(&st->lock);
  st->calls++;
  if (st->closed) st->after_close++;
  lbc_channel *ch = st->calls >= 2 && !st->closed ? st->ch : NULL;
  pthread_mutex_unlock(&st->lock);
  lbc_address_list_add(out, g_addrs[0]);
  if (ch) {
    double t0 = now_s();
    lbc_channel_close(ch); /* from its own lookup thread: must not deadlock */
    pthread_mutex_lock(&st->lock);
    st->closed = 1;
    st->close_seconds = now_s() - t0;
    pthread_mutex_unlock(&st->lock);
  }
  return 0;
}

TEST(test_close_from_lookup_callback) {
  static struct self_close st = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0, 0};
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL;
  CHECK_RC(lbc_options_new(&opts), LBC_OK);
  CHECK_RC(lbc_options_set(opts, "discovery_interval_ms", "100"), LBC_OK);
  CHECK_RC(lbc_options_set_lookup(opts, self_closing_lookup, &st), LBC_OK);
  CHECK_RC(lbc_channel_open("self-closing", opts, &ch), LBC_OK);
  lbc_options_free(opts);
  if (!ch) return;
  pthread_mutex_lock(&st.lock);
  st.ch = ch;
  pthread_mutex_unlock(&st.lock);
  CHECK(wait_flag(&st.lock, &st.closed, 5.0), "the lookup callback did not get to close its channel within 5 s");
  CHECK(st.close_seconds < 0.5, "close from the lookup callback took %.2f s", st.close_seconds);
  lbc_response *resp = NULL;
  CHECK_RC(lbc_unary(ch, "/lbtest.Test/Whoami", "", 0, NULL, 1000, &resp), LBC_ERR_CLOSED);
  struct timespec settle = {0, 400 * 1000 * 1000};
  nanosleep(&settle, NULL); /* four discovery intervals */
  pthread_mutex_lock(&st.lock);
  CHECK(st.after_close == 0, "%d lookup calls started after the channel was closed", st.after_close);
  pthread_mutex_unlock(&st.lock);
}

/* From the log callback (the channel's I/O thread): a blocking lbc_unary on the same
   channel is refused with LBC_ERR_RECURSIVE_CALL instead of deadlocking, and
   lbc_channel_stats_json still works. */
struct reentrant_log {
  pthread_mutex_t lock;
  lbc_channel *ch;
  int lines, unary_rc, stats_rc, stats_ok;
};

static void reentrant_log_cb(int level, const char *message, void *user_data) {
  (void)level;
  (void)message;
  struct reentrant_log *st = user_data;
  pthread_mutex_lock(&st->lock);
  lbc_channel *ch = st->ch;
  int first = st->lines++ == 0;
  pthread_mutex_unlock(&st->lock);
  if (!ch || !first) return;
  lbc_response *resp = NULL;
  int urc = lbc_unary(ch, "/lbtest.Test/Whoami", "", 0, NULL, 1000, &resp);
  lbc_response_free(resp);
  char *json = NULL;
  int src = lbc_channel_stats_json(ch, &json);
  pthread_mutex_lock(&st->lock);
  st->unary_rc = urc;
  st->stats_rc = src;
  st->stats_ok = json != NULL && strstr(json, "\"endpoints\"") != NULL;
  pthread_mutex_unlock(&st->lock);
  lbc_free(json);
}

TEST(test_api_from_log_callback) {
  static struct reentrant_log st = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 1, 1, 0};
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL;
  CHECK_RC(lbc_options_new(&opts), LBC_OK);
  CHECK_RC(lbc_options_set_log_callback(opts, reentrant_log_cb, &st), LBC_OK);
  CHECK_RC(lbc_channel_open("manual:", opts, &ch), LBC_OK);
  lbc_options_free(opts);
  if (!ch) return;
  pthread_mutex_lock(&st.lock);
  st.ch = ch;
  pthread_mutex_unlock(&st.lock);
  /* A pushed set change is logged on the I/O thread. */
  CHECK_RC(lbc_channel_set_endpoints(ch, g_addrs, 1), LBC_OK);
  CHECK(wait_flag(&st.lock, &st.lines, 5.0), "no log line within 5 s");
  /* The channel still serves (its I/O thread is not stuck). */
  lbc_response *resp = NULL;
  CHECK_RC(lbc_unary(ch, "/lbtest.Test/Whoami", "", 0, NULL, 5000, &resp), LBC_OK);
  CHECK(resp && lbc_response_status(resp) == LBC_STATUS_OK, "call after the log callback failed");
  lbc_response_free(resp);
  pthread_mutex_lock(&st.lock);
  CHECK(st.unary_rc == LBC_ERR_RECURSIVE_CALL, "lbc_unary from the log callback returned %d (%s)",
        st.unary_rc, lbc_strerror(st.unary_rc));
  CHECK(st.stats_rc == LBC_OK && st.stats_ok, "stats from the log callback: rc %d", st.stats_rc);
  pthread_mutex_unlock(&st.lock);
  lbc_channel_close(ch);
}

/* lbc_channel_close() never waits unboundedly for application code: a lookup or log
   callback blocks on a lock the closing thread holds (what a runtime with a global
   lock does: Ruby's GVL held during C calls). close returns after its bound (2 s),
   no callback starts after it returned, and the teardown finishes once the callback
   is let go. */
struct blocked_cb {
  pthread_mutex_t state;  /* guards the counters */
  pthread_mutex_t gate;   /* held by the test while it closes: the "global lock" */
  int started, returned, started_after_close, closed;
};

static void blocked_cb_enter(struct blocked_cb *st) {
  pthread_mutex_lock(&st->state);
  st->started++;
  if (st->closed) st->started_after_close++;
  pthread_mutex_unlock(&st->state);
  pthread_mutex_lock(&st->gate); /* blocks while the closing thread holds it */
  pthread_mutex_unlock(&st->gate);
  pthread_mutex_lock(&st->state);
  st->returned++;
  pthread_mutex_unlock(&st->state);
}

static int blocking_lookup(const char *target, lbc_address_list *out, void *user_data) {
  (void)target;
  blocked_cb_enter(user_data);
  lbc_address_list_add(out, g_addrs[0]);
  return 0;
}

static int plain_lookup(const char *target, lbc_address_list *out, void *user_data) {
  (void)target;
  (void)user_data;
  lbc_address_list_add(out, g_addrs[0]);
  return 0;
}

static void blocking_log(int level, const char *message, void *user_data) {
  (void)level;
  (void)message;
  blocked_cb_enter(user_data);
}

static void close_with_blocked_callback(int use_log) {
  static struct blocked_cb st;
  memset(&st, 0, sizeof st);
  pthread_mutex_init(&st.state, NULL);
  pthread_mutex_init(&st.gate, NULL);
  pthread_mutex_lock(&st.gate);
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL;
  CHECK_RC(lbc_options_new(&opts), LBC_OK);
  CHECK_RC(lbc_options_set(opts, "discovery_interval_ms", "100"), LBC_OK);
  if (use_log) {
    CHECK_RC(lbc_options_set_lookup(opts, plain_lookup, NULL), LBC_OK);
    CHECK_RC(lbc_options_set_log_callback(opts, blocking_log, &st), LBC_OK);
  } else {
    CHECK_RC(lbc_options_set_lookup(opts, blocking_lookup, &st), LBC_OK);
  }
  CHECK_RC(lbc_channel_open("blocked-callback", opts, &ch), LBC_OK);
  lbc_options_free(opts);
  if (!ch) {
    pthread_mutex_unlock(&st.gate);
    return;
  }
  CHECK(wait_flag(&st.state, &st.started, 5.0), "the %s callback never ran", use_log ? "log" : "lookup");
  double t0 = now_s();
  lbc_channel_close(ch); /* the callback waits for st.gate, which this thread holds */
  double took = now_s() - t0;
  pthread_mutex_lock(&st.state);
  st.closed = 1;
  int returned_before = st.returned;
  pthread_mutex_unlock(&st.state);
  CHECK(took >= 1.5 && took < 4.0, "close with a blocked %s callback took %.2f s (bound: 2 s)",
        use_log ? "log" : "lookup", took);
  CHECK(returned_before == 0, "the blocked callback returned before the gate opened");
  lbc_response *resp = NULL;
  CHECK_RC(lbc_unary(ch, "/lbtest.Test/Whoami", "", 0, NULL, 1000, &resp), LBC_ERR_CLOSED);
  pthread_mutex_unlock(&st.gate); /* the runtime lets go: the teardown completes */
  CHECK(wait_flag(&st.state, &st.returned, 5.0), "the callback did not return once let go");
  sleep_ms(500); /* five discovery intervals: time for any late callback */
  pthread_mutex_lock(&st.state);
  CHECK(st.started_after_close == 0, "%d callbacks started after lbc_channel_close returned",
        st.started_after_close);
  pthread_mutex_unlock(&st.state);
}

TEST(test_close_with_blocked_lookup_callback) { close_with_blocked_callback(0); }
TEST(test_close_with_blocked_log_callback) { close_with_blocked_callback(1); }

/* Log lines without a callback (lbc_options_set_log_queue): an LBC_EVENT_LOG event
   on the queue, then lbc_channel_next_log until LBC_ERR_WOULD_BLOCK; no application
   code ever runs on a library thread. */
TEST(test_log_queue) {
  lbc_cq *cq = NULL;
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  if (!cq) return;
  int tag = 42;
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL, *plain = NULL;
  CHECK_RC(lbc_options_new(&opts), LBC_OK);
  CHECK_RC(lbc_options_set_log_queue(NULL, cq, &tag), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set_log_queue(opts, cq, &tag), LBC_OK);
  CHECK_RC(lbc_channel_open("manual:", opts, &ch), LBC_OK);
  CHECK_RC(lbc_options_set_log_queue(opts, NULL, NULL), LBC_OK); /* removed again */
  CHECK_RC(lbc_channel_open("manual:", opts, &plain), LBC_OK);
  lbc_options_free(opts);
  if (!ch || !plain) return;
  int level = -1;
  char *line = NULL;
  CHECK_RC(lbc_channel_next_log(plain, &level, &line), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_channel_next_log(ch, NULL, &line), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_channel_next_log(NULL, &level, &line), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_channel_set_endpoints(ch, g_addrs, 1), LBC_OK); /* logs the new set */
  lbc_event ev;
  int n = lbc_cq_poll(cq, &ev, sizeof ev, 1, 5000);
  CHECK(n == 1 && ev.kind == LBC_EVENT_LOG && ev.tag == &tag && ev.response == NULL,
        "no LBC_EVENT_LOG within 5 s (n=%d kind %d)", n, n == 1 ? ev.kind : -1);
  int lines = 0, named = 0, rc;
  while ((rc = lbc_channel_next_log(ch, &level, &line)) == LBC_OK) {
    lines++;
    if (strstr(line, g_addrs[0])) named++;
    CHECK(level >= LBC_LOG_DEBUG && level <= LBC_LOG_ERROR, "level %d", level);
    lbc_free(line);
  }
  CHECK(rc == LBC_ERR_WOULD_BLOCK, "draining ended with %d (%s)", rc, lbc_strerror(rc));
  CHECK(lines >= 1 && named >= 1, "%d lines, %d name %s", lines, named, g_addrs[0]);
  lbc_response *resp = NULL;
  CHECK_RC(lbc_unary(ch, "/lbtest.Test/Whoami", "", 0, NULL, 5000, &resp), LBC_OK);
  lbc_response_free(resp);
  lbc_channel_close(ch);
  lbc_channel_close(plain);
  CHECK_RC(lbc_channel_next_log(ch, &level, &line), LBC_ERR_CLOSED);
  lbc_cq_free(cq);
}

/* Discovery without a lookup callback (lbc_options_set_lookup_queue): each due lookup
   is an LBC_EVENT_LOOKUP event answered with lbc_channel_answer_lookup from this
   thread; answers drive the endpoint set, failures keep it; closing releases a
   lookup that waits for an answer. */
static int wait_lookup_event(lbc_cq *cq, int *tag, double seconds) {
  double deadline = now_s() + seconds;
  while (now_s() < deadline) {
    lbc_event ev;
    int n = lbc_cq_poll(cq, &ev, sizeof ev, 1, 100);
    if (n == 1) return ev.kind == LBC_EVENT_LOOKUP && ev.tag == tag;
    if (n < 0) return 0;
  }
  return 0;
}

TEST(test_lookup_queue) {
  lbc_cq *cq = NULL;
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  if (!cq) return;
  int tag = 7;
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL, *eager = NULL;
  CHECK_RC(lbc_options_new(&opts), LBC_OK);
  CHECK_RC(lbc_options_set_lookup_queue(NULL, cq, &tag), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_options_set_lookup_queue(opts, cq, &tag), LBC_OK);
  CHECK_RC(lbc_options_set(opts, "discovery_interval_ms", "200"), LBC_OK);
  CHECK_RC(lbc_options_set(opts, "resolution", "eager"), LBC_OK);
  CHECK_RC(lbc_channel_open("my-registry/svc", opts, &eager), LBC_ERR_INVALID_ARGUMENT);
  CHECK(eager == NULL, "eager open with a lookup queue gave a channel");
  CHECK_RC(lbc_options_set(opts, "resolution", "lazy"), LBC_OK);
  CHECK_RC(lbc_channel_open("my-registry/svc", opts, &ch), LBC_OK);
  lbc_options_free(opts);
  if (!ch) return;
  CHECK(wait_lookup_event(cq, &tag, 5.0), "no LBC_EVENT_LOOKUP within 5 s");
  CHECK_RC(lbc_channel_answer_lookup(ch, NULL, 2, NULL), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_channel_answer_lookup(ch, g_addrs, 2, NULL), LBC_OK);
  CHECK_RC(lbc_channel_answer_lookup(ch, g_addrs, 2, NULL), LBC_ERR_INVALID_ARGUMENT); /* answered */
  int served[2] = {0, 0};
  for (int i = 0; i < 20; i++) {
    lbc_response *resp = NULL;
    if (lbc_unary(ch, "/lbtest.Test/Echo", "x", 1, NULL, 5000, &resp) == LBC_OK &&
        lbc_response_status(resp) == LBC_STATUS_OK) {
      for (int k = 0; k < 2; k++)
        if (strcmp(lbc_response_peer(resp), g_addrs[k]) == 0) served[k]++;
    }
    lbc_response_free(resp);
  }
  CHECK(served[0] + served[1] == 20 && served[0] > 0 && served[1] > 0,
        "the answered endpoints served %d and %d of 20 calls", served[0], served[1]);
  /* The next scheduled lookup: fail it; the endpoints stay. */
  CHECK(wait_lookup_event(cq, &tag, 5.0), "no second LBC_EVENT_LOOKUP");
  CHECK_RC(lbc_channel_answer_lookup(ch, NULL, 0, "registry down"), LBC_OK);
  lbc_response *resp = NULL;
  CHECK_RC(lbc_unary(ch, "/lbtest.Test/Echo", "x", 1, NULL, 5000, &resp), LBC_OK);
  CHECK(resp && lbc_response_status(resp) == LBC_STATUS_OK, "a call after a failed lookup failed");
  lbc_response_free(resp);
  char *json = NULL;
  CHECK_RC(lbc_channel_stats_json(ch, &json), LBC_OK);
  CHECK(json && strstr(json, "registry down"), "the failed lookup is not in the stats: %s", json ? json : "");
  lbc_free(json);
  /* A lookup due and never answered: close releases it (no 2 s wait). */
  CHECK(wait_lookup_event(cq, &tag, 5.0), "no third LBC_EVENT_LOOKUP");
  double t0 = now_s();
  lbc_channel_close(ch);
  CHECK(now_s() - t0 < 1.0, "close with an unanswered lookup took %.2f s", now_s() - t0);
  CHECK_RC(lbc_channel_answer_lookup(ch, g_addrs, 1, NULL), LBC_ERR_CLOSED);
  lbc_cq_free(cq);
}

/* 8 threads x 200 calls on one channel. */
enum { THREADS = 8, CALLS_PER_THREAD = 200 };
struct worker {
  lbc_channel *ch;
  int ok, api_errors, bad_status;
};

static void *worker_main(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < CALLS_PER_THREAD; i++) {
    lbc_response *resp = NULL;
    char req[32];
    int n = snprintf(req, sizeof req, "t%p-%d", (void *)w, i);
    int rc = lbc_unary(w->ch, "/lbtest.Test/Echo", req, (size_t)n, NULL, 10000, &resp);
    if (rc != LBC_OK) {
      w->api_errors++;
      continue;
    }
    size_t len = 0;
    const uint8_t *data = lbc_response_data(resp, &len);
    if (lbc_response_status(resp) == LBC_STATUS_OK && len == (size_t)n && memcmp(data, req, len) == 0)
      w->ok++;
    else
      w->bad_status++;
    lbc_response_free(resp);
  }
  return NULL;
}

TEST(test_threads) {
  pthread_t tids[THREADS];
  struct worker workers[THREADS];
  int total = 0;
  lbc_channel *ch = open_channel("least_request", NULL, NULL);
  if (!ch) return;
  for (int i = 0; i < THREADS; i++) {
    workers[i] = (struct worker){ch, 0, 0, 0};
    CHECK(pthread_create(&tids[i], NULL, worker_main, &workers[i]) == 0, "pthread_create");
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(tids[i], NULL);
    CHECK(workers[i].api_errors == 0 && workers[i].bad_status == 0,
          "thread %d: %d OK, %d API errors, %d bad responses", i, workers[i].ok,
          workers[i].api_errors, workers[i].bad_status);
    total += workers[i].ok;
  }
  CHECK(total == THREADS * CALLS_PER_THREAD, "%d of %d calls OK", total,
        THREADS * CALLS_PER_THREAD);
  lbc_channel_close(ch);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s TARGET   (three test backends, see Tests/c/run.sh)\n", argv[0]);
    return 2;
  }
  g_target = argv[1];
  printf("lbchannel %s (header %s), target %s\n", lbc_version(), LBC_VERSION, g_target);

  RUN(test_version);
  RUN(test_strerror);
  RUN(test_status_names);
  RUN(test_options);
  RUN(test_metadata);
  RUN(test_null_destructors);
  RUN(test_bad_targets);
  RUN(test_dns_targets);
  RUN(test_round_robin_spread);
  RUN(test_other_policies);
  RUN(test_echo_metadata);
  RUN(test_statuses);
  RUN(test_large_messages);
  RUN(test_close);
  RUN(test_unavailable);
  RUN(test_health_checking);
  RUN(test_push_endpoints);
  RUN(test_lookup_callback);
  RUN(test_close_from_lookup_callback);
  RUN(test_api_from_log_callback);
  RUN(test_close_with_blocked_lookup_callback);
  RUN(test_close_with_blocked_log_callback);
  RUN(test_log_queue);
  RUN(test_lookup_queue);
  RUN(test_threads);

  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
