/*
 * interop_common.h — shared helpers of test_interop.c and test_streams.c:
 * a small check framework (cases, checks that print why they failed), the
 * grpc.testing method names, channel/metadata helpers, VmRSS, and a
 * single-threaded completion-queue driver for streaming calls.
 *
 * Header-only (static functions), included by exactly one .c file each.
 */
#ifndef LBC_TEST_INTEROP_COMMON_H
#define LBC_TEST_INTEROP_COMMON_H

#include <lbchannel.h>

#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pb.h"

#define M_EMPTY "/grpc.testing.TestService/EmptyCall"
#define M_UNARY "/grpc.testing.TestService/UnaryCall"
#define M_SOUT "/grpc.testing.TestService/StreamingOutputCall"
#define M_SIN "/grpc.testing.TestService/StreamingInputCall"
#define M_FDX "/grpc.testing.TestService/FullDuplexCall"
#define M_HDX "/grpc.testing.TestService/HalfDuplexCall"
#define M_UNIMPL "/grpc.testing.TestService/UnimplementedCall"
#define M_UNIMPL_SVC "/grpc.testing.UnimplementedService/UnimplementedCall"

/* ------------------------------------------------------------------------- */
/* Checks and cases                                                           */
/* ------------------------------------------------------------------------- */

static const char *g_case = "?";
static int g_case_failed;            /* failed checks in the running case */
static int g_checks_passed, g_checks_failed;
static int g_cases_passed, g_cases_failed;
static pthread_mutex_t g_check_lock = PTHREAD_MUTEX_INITIALIZER;

static inline int check_(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Record one check; print why it failed. Returns ok. Any thread. */
static inline int check_(int ok, const char *file, int line, const char *fmt, ...) {
  pthread_mutex_lock(&g_check_lock);
  if (ok) {
    g_checks_passed++;
  } else {
    va_list ap;
    g_checks_failed++;
    g_case_failed++;
    if (g_case_failed <= 20) {
      printf("    %s: check failed (%s:%d): ", g_case, file, line);
      va_start(ap, fmt);
      vprintf(fmt, ap);
      va_end(ap);
      printf("\n");
      fflush(stdout);
    }
  }
  pthread_mutex_unlock(&g_check_lock);
  return ok;
}

/* CHECK(cond, "printf format", ...): an expression, true when the check passed. */
#define CHECK(cond, ...) check_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
/* REQUIRE: a CHECK that ends the current case function when it fails. */
#define REQUIRE(cond, ...)                  \
  do {                                      \
    if (!CHECK(cond, __VA_ARGS__)) return;  \
  } while (0)
/* CHECK_RC(expr, expected): an lbc_* call returns the expected code (an expression). */
#define CHECK_RC(expr, expected) check_rc_((expr), (expected), #expr, __FILE__, __LINE__)

static inline int check_rc_(int rc, int expected, const char *expr, const char *file, int line) {
  return check_(rc == expected, file, line,
                "%s returned %d (%s), expected %d (%s); last_errmsg: \"%s\"", expr, rc,
                lbc_strerror(rc), expected, lbc_strerror(expected), lbc_last_errmsg());
}

static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* Run one case: prints "PASS name (t s)" or "FAIL name (n failed checks)". */
static inline void run_case(const char *name, void (*fn)(void)) {
  double t0;
  g_case = name;
  g_case_failed = 0;
  fflush(stdout);
  t0 = now_s();
  fn();
  if (g_case_failed == 0) {
    g_cases_passed++;
    printf("PASS %s (%.2f s)\n", name, now_s() - t0);
  } else {
    g_cases_failed++;
    printf("FAIL %s (%d failed check%s, %.2f s)\n", name, g_case_failed,
           g_case_failed == 1 ? "" : "s", now_s() - t0);
  }
  fflush(stdout);
}

/* ------------------------------------------------------------------------- */
/* Library helpers                                                            */
/* ------------------------------------------------------------------------- */

/* Open a channel; extra options as NULL-terminated key, value pairs. */
static inline lbc_channel *open_channel_kv(const char *target, const char *const *kv) {
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL;
  int rc = lbc_options_new(&opts);
  if (!CHECK(rc == LBC_OK, "lbc_options_new: %s", lbc_strerror(rc))) return NULL;
  for (size_t i = 0; kv && kv[i]; i += 2) {
    rc = lbc_options_set(opts, kv[i], kv[i + 1]);
    CHECK(rc == LBC_OK, "lbc_options_set(%s, %s): %s (%s)", kv[i], kv[i + 1], lbc_strerror(rc),
          lbc_last_errmsg());
  }
  rc = lbc_channel_open(target, opts, &ch);
  CHECK(rc == LBC_OK, "lbc_channel_open(%s): %s (%s)", target, lbc_strerror(rc), lbc_last_errmsg());
  lbc_options_free(opts);
  return rc == LBC_OK ? ch : NULL;
}

/* The value of the first pair named key, or NULL (with *len = 0). */
static inline const uint8_t *md_find(const lbc_metadata *md, const char *key, size_t *len) {
  size_t n = lbc_metadata_count(md);
  for (size_t i = 0; i < n; i++) {
    const char *k;
    const uint8_t *v;
    size_t vl;
    if (lbc_metadata_get(md, i, &k, &v, &vl) == LBC_OK && strcmp(k, key) == 0) {
      if (len) *len = vl;
      return v;
    }
  }
  if (len) *len = 0;
  return NULL;
}

static inline int md_has(const lbc_metadata *md, const char *key, const void *value, size_t len) {
  size_t vl;
  const uint8_t *v = md_find(md, key, &vl);
  return v && vl == len && memcmp(v, value, len) == 0;
}

/* Printable form of a metadata list for failure messages (static buffer). */
static inline const char *md_str(const lbc_metadata *md) {
  static __thread char buf[512];
  size_t n = lbc_metadata_count(md), off = 0;
  buf[0] = 0;
  for (size_t i = 0; i < n && off < sizeof buf - 64; i++) {
    const char *k;
    const uint8_t *v;
    size_t vl;
    if (lbc_metadata_get(md, i, &k, &v, &vl) != LBC_OK) continue;
    off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s=%.*s", i ? ", " : "", k,
                            (int)(vl > 40 ? 40 : vl), (const char *)v);
  }
  return buf;
}

/* VmRSS of this process in bytes (0 if unreadable). */
static inline long rss_bytes(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = 0;
  if (!f) return 0;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kb = strtol(line + 6, NULL, 10);
      break;
    }
  fclose(f);
  return kb * 1024;
}

/* VmRSS after returning freed heap memory to the system (malloc_trim on every
 * glibc arena): what the process really holds, not malloc's cache of freed
 * chunks, which would otherwise make RSS wander by megabytes. */
static inline long rss_live_bytes(void) {
  malloc_trim(0);
  return rss_bytes();
}

/* Number of comma-separated addresses in an ipv4:/ipv6: target. */
static inline int target_count(const char *target) {
  int n = 1;
  for (const char *p = target; *p; p++)
    if (*p == ',') n++;
  return n;
}

/* ------------------------------------------------------------------------- */
/* A completion-queue driven stream (one thread drives many of them)          */
/* ------------------------------------------------------------------------- */

/*
 * A call whose requests are sent and responses checked from lbc_cq_poll
 * events with non-blocking operations only (timeout 0):
 *   - requests reqs[0..nreqs) are sent in order, the last with LBC_SEND_END
 *     (nreqs = 0: just lbc_call_close_send); a send that would block waits for
 *     LBC_CALL_WRITABLE;
 *   - lockstep: request i is sent only once i responses arrived (ping-pong);
 *   - responses must be StreamingOutputCallResponse/SimpleResponse-like
 *     messages whose field-1 payload body is zeros of expect_sizes[i] bytes,
 *     unless raw_expect is set (then the response bytes must equal it);
 *   - the call must end with expect_status.
 */
typedef struct cq_stream {
  lbc_call *call;
  const char *name;
  pb_buf *reqs;
  size_t nreqs, sent;
  int lockstep;
  const int32_t *expect_sizes;
  size_t nexpect, got;
  int expect_status;
  const char *expect_message; /* NULL: any */
  const uint8_t *raw_expect; /* with raw_len: exact response bytes (one response) */
  size_t raw_len;
  int closed, ended, done, finished, failed;
  unsigned events; /* LBC_CALL_* bits seen */
} cq_stream;

static inline int cqs_fail(cq_stream *s, int ok, const char *file, int line, const char *what, int rc) {
  if (!ok) {
    if (!s->failed)
      check_(0, file, line, "[%s] %s: %d (%s) %s", s->name, what, rc, lbc_strerror(rc),
             lbc_last_errmsg());
    s->failed = 1;
    if (s->call) lbc_call_cancel(s->call); /* end it now: its DONE event follows */
  }
  return ok;
}
#define CQS_CHECK(s, ok, what, rc) cqs_fail((s), (ok), __FILE__, __LINE__, (what), (rc))

static inline void cqs_pump_send(cq_stream *s) {
  if (s->failed || s->ended) return;
  while (s->sent < s->nreqs && (!s->lockstep || s->got >= s->sent)) {
    unsigned flags = s->sent + 1 == s->nreqs ? LBC_SEND_END : 0;
    int rc = lbc_call_send(s->call, s->reqs[s->sent].data, s->reqs[s->sent].len, flags, 0);
    if (rc == LBC_ERR_WOULD_BLOCK) return; /* LBC_CALL_WRITABLE follows */
    if (!CQS_CHECK(s, rc == LBC_OK, "lbc_call_send", rc)) return;
    s->sent++;
    if (flags) s->closed = 1;
  }
  if (s->nreqs == 0 && !s->closed) {
    int rc = lbc_call_close_send(s->call);
    CQS_CHECK(s, rc == LBC_OK, "lbc_call_close_send", rc);
    s->closed = 1;
  }
}

static inline void cqs_drain(cq_stream *s) {
  for (;;) {
    void *msg = NULL;
    size_t len = 0;
    int rc;
    if (s->failed || s->ended) return;
    rc = lbc_call_recv(s->call, 0, &msg, &len);
    if (rc == LBC_ERR_WOULD_BLOCK) return;
    if (rc == LBC_END) {
      s->ended = 1;
      return;
    }
    if (!CQS_CHECK(s, rc == LBC_OK, "lbc_call_recv", rc)) return;
    if (s->raw_expect || s->raw_len) {
      CQS_CHECK(s, s->got == 0 && len == s->raw_len && memcmp(msg, s->raw_expect, len) == 0,
                "unexpected response bytes (len)", (int)len);
    } else {
      size_t blen = 0;
      int zero = 0;
      int prc = pb_get_payload_body(msg, len, 1, NULL, &blen, &zero);
      if (CQS_CHECK(s, s->got < s->nexpect, "more responses than expected; count", (int)s->got + 1))
        CQS_CHECK(s, prc == 0 && zero && blen == (size_t)s->expect_sizes[s->got],
                  "wrong response payload size", (int)blen);
    }
    lbc_free(msg);
    s->got++;
    cqs_pump_send(s);
  }
}

static inline void cqs_on_event(cq_stream *s, unsigned flags) {
  s->events |= flags;
  if (flags & LBC_CALL_WRITABLE) cqs_pump_send(s);
  if (flags & (LBC_CALL_READABLE | LBC_CALL_DONE)) cqs_drain(s);
  if (flags & LBC_CALL_DONE) s->done = 1;
}

/* Start s (fields other than call/flags filled by the caller) on cq. */
static inline int cqs_start(cq_stream *s, lbc_channel *ch, const char *method, const lbc_metadata *md,
                     int64_t timeout_ms, lbc_cq *cq) {
  int rc = lbc_call_start(ch, method, md, timeout_ms, cq, s, &s->call);
  if (!CQS_CHECK(s, rc == LBC_OK, "lbc_call_start", rc)) {
    s->call = NULL;
    s->done = s->ended = 1;
    return -1;
  }
  cqs_pump_send(s);
  return 0;
}

/* Check the outcome of a stream whose DONE event arrived; frees the call. */
static inline void cqs_finish(cq_stream *s) {
  int status = -1;
  const char *message = NULL;
  int rc;
  if (!s->call) return;
  if (!s->failed) {
    rc = lbc_call_finish(s->call, 0, &status, &message, NULL);
    if (CQS_CHECK(s, rc == LBC_OK, "lbc_call_finish(timeout 0) after LBC_CALL_DONE", rc)) {
      if (status != s->expect_status ||
          (s->expect_message && strcmp(message ? message : "", s->expect_message) != 0)) {
        check_(0, __FILE__, __LINE__, "[%s] ended with %s \"%s\", expected %s \"%s\"", s->name,
               lbc_status_name(status), message ? message : "(null)",
               lbc_status_name(s->expect_status), s->expect_message ? s->expect_message : "*");
        s->failed = 1;
      } else if (s->expect_status == LBC_STATUS_OK)
        CQS_CHECK(s, s->got == s->nexpect, "wrong number of responses", (int)s->got);
    }
    CQS_CHECK(s, s->ended, "recv never returned LBC_END though the call is done", 0);
  }
  s->finished = 1;
  lbc_call_free(s->call);
  s->call = NULL;
}

/*
 * Drive n streams on cq until every one has seen LBC_CALL_DONE and LBC_END,
 * or until deadline_s (CLOCK_MONOTONIC seconds). Returns the number still
 * unfinished (0 on success). Also checks that every event carries a known tag
 * and kind LBC_EVENT_CALL.
 */
static inline size_t cqs_run(lbc_cq *cq, cq_stream *streams, size_t n, double deadline_s) {
  size_t unfinished = n;
  lbc_event ev[64];
  for (size_t i = 0; i < n; i++)
    if (streams[i].finished || !streams[i].call) {
      streams[i].finished = 1;
      unfinished--;
    }
  while (unfinished > 0 && now_s() < deadline_s) {
    int got = lbc_cq_poll(cq, ev, sizeof(lbc_event), 64, 100);
    if (!CHECK(got >= 0, "lbc_cq_poll: %d (%s)", got, lbc_strerror(got))) break;
    for (int i = 0; i < got; i++) {
      cq_stream *s = (cq_stream *)ev[i].tag;
      if (!CHECK(s >= streams && s < streams + n, "event with unknown tag %p", ev[i].tag)) continue;
      CHECK(ev[i].kind == LBC_EVENT_CALL && ev[i].response == NULL,
            "stream event of kind %d with response %p", ev[i].kind, (void *)ev[i].response);
      if (!CHECK(!s->finished, "[%s] event 0x%x after LBC_CALL_DONE", s->name, ev[i].flags))
        continue;
      cqs_on_event(s, ev[i].flags);
      if (s->done && (s->ended || s->failed)) {
        cqs_finish(s);
        unfinished--;
      }
    }
  }
  return unfinished;
}

#endif /* LBC_TEST_INTEROP_COMMON_H */
