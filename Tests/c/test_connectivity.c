/*
 * test_connectivity.c — connectivity without polling (lbc_channel_connectivity,
 * lbc_channel_endpoint_connectivity, lbc_channel_watch_connectivity), tested
 * against real gRPC backends.
 *
 *   test_connectivity TARGET
 *
 * TARGET lists three running test backends (Tests/c/run.sh starts them). The
 * backends stay up: TRANSIENT_FAILURE comes from pushing an address nobody listens
 * on (the Python test kills and restarts real backends). Prints one line per failed
 * check and ends with "N passed, M failed"; exits 1 if anything failed.
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

static const char *g_target;
static char g_addr_buf[256];
static const char *g_addrs[3];

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The three "ADDR:PORT" texts of "ipv4:A,B,C". */
static int split_target(void) {
  if (strncmp(g_target, "ipv4:", 5) != 0 || strlen(g_target) >= sizeof g_addr_buf) return 0;
  strcpy(g_addr_buf, g_target + 5);
  int n = 0;
  for (char *save = NULL, *p = strtok_r(g_addr_buf, ",", &save); p && n < 3; p = strtok_r(NULL, ",", &save))
    g_addrs[n++] = p;
  return n == 3;
}

/* ------------------------------------------------------------------------- */
/* An event recorder: every connectivity event of one tag, checked for order  */
/* ------------------------------------------------------------------------- */

#define MAX_ENDPOINTS 8
struct recorder {
  void *tag;
  int channel_state;  /* last channel state seen (-1: none yet) */
  int events, channel_events, endpoint_events, last_events;
  int added, removed;
  int want_added, want_removed; /* pump's conditions also wait for these counts */
  int saw_channel[5]; /* channel states seen */
  struct {
    char address[64];
    int state;
  } ep[MAX_ENDPOINTS];
  int neps;
};

static void recorder_init(struct recorder *r, void *tag, int initial_state) {
  memset(r, 0, sizeof *r);
  r->tag = tag;
  r->channel_state = initial_state;
}

static int *endpoint_slot(struct recorder *r, const char *address) {
  for (int i = 0; i < r->neps; i++)
    if (strcmp(r->ep[i].address, address) == 0) return &r->ep[i].state;
  if (r->neps == MAX_ENDPOINTS) return NULL;
  snprintf(r->ep[r->neps].address, sizeof r->ep[0].address, "%s", address);
  r->ep[r->neps].state = -1;
  return &r->ep[r->neps++].state;
}

/* Apply one event to the recorder, checking it continues what came before. */
static void record(struct recorder *r, const lbc_event *ev) {
  CHECK(ev->kind == LBC_EVENT_CONNECTIVITY, "event kind %d, expected LBC_EVENT_CONNECTIVITY", ev->kind);
  CHECK(ev->tag == r->tag, "event of tag %p, expected %p", ev->tag, r->tag);
  CHECK(ev->response == NULL, "a connectivity event carries a response");
  CHECK(ev->state >= LBC_CONN_IDLE && ev->state <= LBC_CONN_SHUTDOWN, "state %d out of range", ev->state);
  CHECK(r->last_events == 0, "an event after the watch's LAST event");
  r->events++;
  if (ev->flags & LBC_CONNECTIVITY_LAST) r->last_events++;
  if (ev->flags & LBC_CONNECTIVITY_ENDPOINT) {
    r->endpoint_events++;
    CHECK(ev->address != NULL, "endpoint event without address");
    if (!ev->address) return;
    int *slot = endpoint_slot(r, ev->address);
    if (slot) {
      if (ev->flags & LBC_CONNECTIVITY_ADDED) {
        r->added++;
        CHECK(*slot == -1 || *slot == LBC_CONN_SHUTDOWN, "%s added twice", ev->address);
        CHECK(ev->old_state == ev->state, "ADDED with old_state %d != state %d", ev->old_state, ev->state);
      } else {
        CHECK(*slot == ev->old_state, "%s: old_state %d, but its last event said %d", ev->address,
              ev->old_state, *slot);
        CHECK(ev->old_state != ev->state, "%s: a change from %d to itself", ev->address, ev->state);
      }
      if (ev->flags & LBC_CONNECTIVITY_REMOVED) {
        r->removed++;
        CHECK(ev->state == LBC_CONN_SHUTDOWN, "REMOVED with state %d", ev->state);
      }
      *slot = ev->state;
    }
    lbc_free(ev->address);
    return;
  }
  CHECK(ev->address == NULL, "a channel event with an address");
  r->channel_events++;
  if (!(ev->flags & LBC_CONNECTIVITY_LAST) || ev->state != ev->old_state) {
    CHECK(r->channel_state < 0 || ev->old_state == r->channel_state,
          "channel event old_state %d, but the last state was %d", ev->old_state, r->channel_state);
    if (!(ev->flags & LBC_CONNECTIVITY_LAST))
      CHECK(ev->old_state != ev->state, "a channel change from %d to itself", ev->state);
  }
  r->channel_state = ev->state;
  r->saw_channel[ev->state] = 1;
}

/* Poll `cq` into the recorder until `done(r)` or `seconds` pass. Returns done(r). */
static int pump(lbc_cq *cq, struct recorder *r, int (*done)(const struct recorder *), double seconds) {
  double end = now_s() + seconds;
  while (!done(r)) {
    double left = end - now_s();
    if (left <= 0) return 0;
    lbc_event ev[8];
    int n = lbc_cq_poll(cq, ev, sizeof ev[0], 8, (int64_t)(left * 1000) + 1);
    CHECK(n >= 0, "lbc_cq_poll: %d (%s)", n, lbc_last_errmsg());
    if (n < 0) return 0;
    for (int i = 0; i < n; i++) record(r, &ev[i]);
  }
  return 1;
}

static int counts_reached(const struct recorder *r) {
  return r->added >= r->want_added && r->removed >= r->want_removed;
}
static int is_ready(const struct recorder *r) { return r->channel_state == LBC_CONN_READY; }
static int is_failing(const struct recorder *r) {
  return counts_reached(r) && r->channel_state == LBC_CONN_TRANSIENT_FAILURE;
}
static int is_last(const struct recorder *r) { return r->last_events > 0; }
static int all_three_ready(const struct recorder *r) {
  int n = 0;
  if (!counts_reached(r)) return 0;
  for (int i = 0; i < r->neps; i++)
    for (int j = 0; j < 3; j++)
      if (strcmp(r->ep[i].address, g_addrs[j]) == 0 && r->ep[i].state == LBC_CONN_READY) n++;
  return n == 3 && r->channel_state == LBC_CONN_READY;
}

static int last_two_ready(const struct recorder *r) {
  int n = 0;
  if (!counts_reached(r)) return 0;
  for (int i = 0; i < r->neps; i++)
    for (int j = 1; j < 3; j++)
      if (strcmp(r->ep[i].address, g_addrs[j]) == 0 && r->ep[i].state == LBC_CONN_READY) n++;
  return n == 2 && r->channel_state == LBC_CONN_READY;
}

/* ------------------------------------------------------------------------- */

TEST(test_bad_arguments) {
  lbc_cq *cq = NULL;
  lbc_channel *ch = NULL;
  lbc_connectivity_watch *w = (lbc_connectivity_watch *)&w;
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  CHECK_RC(lbc_channel_open("manual:", NULL, &ch), LBC_OK);
  CHECK_RC(lbc_channel_connectivity(NULL), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_channel_endpoint_connectivity(NULL, "127.0.0.1:1"), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_channel_endpoint_connectivity(ch, NULL), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_channel_endpoint_connectivity(ch, "not an address"), LBC_ERR_INVALID_ARGUMENT);
  CHECK(strstr(lbc_last_errmsg(), "lbc_channel_endpoint_connectivity") != NULL, "message: %s", lbc_last_errmsg());
  CHECK_RC(lbc_channel_endpoint_connectivity(ch, "127.0.0.1:1"), LBC_CONN_SHUTDOWN);  /* not in the set */
  CHECK_RC(lbc_channel_watch_connectivity(NULL, cq, NULL, 0, &w), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_channel_watch_connectivity(ch, NULL, NULL, 0, &w), LBC_ERR_INVALID_ARGUMENT);
  CHECK_RC(lbc_channel_watch_connectivity(ch, cq, NULL, 0x10, &w), LBC_ERR_INVALID_ARGUMENT);
  CHECK(strstr(lbc_last_errmsg(), "flag") != NULL, "message: %s", lbc_last_errmsg());
  CHECK(w == (lbc_connectivity_watch *)&w, "*out changed on failure");
  lbc_connectivity_watch_free(NULL);
  lbc_channel_close(ch);
  CHECK_RC(lbc_channel_connectivity(ch), LBC_CONN_SHUTDOWN);  /* closed handle */
  CHECK_RC(lbc_channel_watch_connectivity(ch, cq, NULL, 0, &w), LBC_ERR_CLOSED);
  CHECK_RC(lbc_channel_endpoint_connectivity(ch, "127.0.0.1:1"), LBC_ERR_CLOSED);
  lbc_event ev[2];
  CHECK_RC(lbc_cq_poll(cq, ev, sizeof ev[0], 2, 50), 0);  /* failed calls posted nothing */
  lbc_cq_free(cq);
}

TEST(test_manual_channel_states) {
  lbc_cq *cq = NULL;
  lbc_channel *ch = NULL;
  struct recorder r;
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  CHECK_RC(lbc_channel_open("manual:", NULL, &ch), LBC_OK);
  CHECK_RC(lbc_channel_watch_connectivity(ch, cq, (void *)0x11, 0, NULL), LBC_OK);
  CHECK_RC(lbc_channel_connectivity(ch), LBC_CONN_IDLE);  /* waits for a push */
  recorder_init(&r, (void *)0x11, LBC_CONN_IDLE);
  CHECK_RC(lbc_channel_set_endpoints(ch, NULL, 0), LBC_OK);  /* an empty set: nothing to serve */
  CHECK(pump(cq, &r, is_failing, 10), "no TRANSIENT_FAILURE after an empty push (state %d)", r.channel_state);
  CHECK_RC(lbc_channel_connectivity(ch), LBC_CONN_TRANSIENT_FAILURE);
  CHECK_RC(lbc_channel_set_endpoints(ch, g_addrs, 3), LBC_OK);
  CHECK(pump(cq, &r, is_ready, 15), "no READY after pushing three backends (state %d)", r.channel_state);
  CHECK(r.saw_channel[LBC_CONN_CONNECTING], "READY without CONNECTING first");
  CHECK(r.endpoint_events == 0, "endpoint events without LBC_WATCH_ENDPOINTS: %d", r.endpoint_events);
  lbc_channel_close(ch);
  CHECK(pump(cq, &r, is_last, 5), "no LAST event at close");
  CHECK(r.channel_state == LBC_CONN_SHUTDOWN, "last event state %d, expected SHUTDOWN", r.channel_state);
  lbc_event ev[2];
  CHECK_RC(lbc_cq_poll(cq, ev, sizeof ev[0], 2, 100), 0);
  lbc_cq_free(cq);
}

/* READY, TRANSIENT_FAILURE (all endpoints replaced by a dead one), READY again,
 * SHUTDOWN; endpoint events for every change, join and removal. */
TEST(test_channel_and_endpoint_events) {
  lbc_cq *cq = NULL;
  lbc_channel *ch = NULL;
  lbc_connectivity_watch *w = NULL;
  struct recorder r;
  char dead[64];
  const char *dead_list[1] = {dead};
  snprintf(dead, sizeof dead, "127.0.0.1:%d", unused_port());
  lbc_options *opts = NULL;
  CHECK_RC(lbc_options_new(&opts), LBC_OK);
  /* The dead endpoint fails fast and often: backoff from 100 ms. */
  CHECK_RC(lbc_options_set(opts, "backoff_initial_ms", "100"), LBC_OK);
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  CHECK_RC(lbc_channel_open(g_target, opts, &ch), LBC_OK);
  lbc_options_free(opts);
  CHECK_RC(lbc_channel_watch_connectivity(ch, cq, (void *)0x22, LBC_WATCH_ENDPOINTS, &w), LBC_OK);
  int first = lbc_channel_connectivity(ch);
  CHECK(first == LBC_CONN_IDLE || first == LBC_CONN_CONNECTING || first == LBC_CONN_READY,
        "state right after open: %d", first);
  recorder_init(&r, (void *)0x22, -1);
  CHECK(pump(cq, &r, all_three_ready, 15), "not all three endpoints READY (channel %d, %d endpoint events)",
        r.channel_state, r.endpoint_events);
  CHECK_RC(lbc_channel_connectivity(ch), LBC_CONN_READY);
  for (int i = 0; i < 3; i++) CHECK_RC(lbc_channel_endpoint_connectivity(ch, g_addrs[i]), LBC_CONN_READY);

  /* The whole set replaced by other live endpoints: the channel passes through no
   * TRANSIENT_FAILURE (joins are reported before departures). */
  CHECK_RC(lbc_channel_set_endpoints(ch, g_addrs, 1), LBC_OK);
  CHECK_RC(lbc_channel_set_endpoints(ch, g_addrs + 1, 2), LBC_OK);
  r.want_added = 3 + 2;   /* 1 and 2 join again */
  r.want_removed = 2 + 1; /* 1 and 2 leave, then 0 */
  CHECK(pump(cq, &r, last_two_ready, 15), "the replacement set is not READY (state %d)", r.channel_state);
  CHECK(!r.saw_channel[LBC_CONN_TRANSIENT_FAILURE] && !r.saw_channel[LBC_CONN_IDLE],
        "replacing live endpoints passed through TRANSIENT_FAILURE or IDLE");
  CHECK_RC(lbc_channel_set_endpoints(ch, g_addrs, 3), LBC_OK);
  r.want_added = 6;  /* 0 joins again */
  CHECK(pump(cq, &r, all_three_ready, 15), "not all three READY again (state %d)", r.channel_state);

  /* Every endpoint replaced by one nobody listens on. */
  int removed_before = r.removed;
  CHECK_RC(lbc_channel_set_endpoints(ch, dead_list, 1), LBC_OK);
  r.want_added = 7;
  r.want_removed = 6;
  CHECK(pump(cq, &r, is_failing, 15), "no TRANSIENT_FAILURE with only a dead endpoint (state %d)", r.channel_state);
  CHECK(r.removed - removed_before == 3, "%d REMOVED events, expected 3", r.removed - removed_before);
  CHECK(r.added == 7, "%d ADDED events, expected 7", r.added);
  CHECK_RC(lbc_channel_connectivity(ch), LBC_CONN_TRANSIENT_FAILURE);
  CHECK_RC(lbc_channel_endpoint_connectivity(ch, g_addrs[0]), LBC_CONN_SHUTDOWN);
  int dead_state = lbc_channel_endpoint_connectivity(ch, dead);
  CHECK(dead_state == LBC_CONN_TRANSIENT_FAILURE || dead_state == LBC_CONN_CONNECTING, "dead endpoint: %d", dead_state);
  int *slot = endpoint_slot(&r, dead);
  CHECK(slot && (*slot == LBC_CONN_TRANSIENT_FAILURE || *slot == LBC_CONN_CONNECTING), "dead endpoint events: %d",
        slot ? *slot : -2);

  /* Back: READY again. */
  CHECK_RC(lbc_channel_set_endpoints(ch, g_addrs, 3), LBC_OK);
  r.want_added = 10;
  r.want_removed = 7;
  CHECK(pump(cq, &r, all_three_ready, 15), "not READY again (state %d)", r.channel_state);
  CHECK(r.added == 10 && r.removed == 7, "%d ADDED, %d REMOVED events, expected 10 and 7", r.added, r.removed);

  lbc_channel_close(ch);
  CHECK(pump(cq, &r, is_last, 5), "no LAST event at close");
  CHECK(r.channel_state == LBC_CONN_SHUTDOWN, "last event state %d", r.channel_state);
  CHECK(r.last_events == 1, "%d LAST events", r.last_events);
  lbc_event ev[2];
  CHECK_RC(lbc_cq_poll(cq, ev, sizeof ev[0], 2, 200), 0);
  lbc_connectivity_watch_free(w);  /* after close: no second LAST event */
  CHECK_RC(lbc_cq_poll(cq, ev, sizeof ev[0], 2, 100), 0);
  lbc_cq_free(cq);
}

/* lbc_connectivity_watch_free posts the LAST event once; other watches go on. */
TEST(test_watch_free) {
  lbc_cq *cq = NULL;
  lbc_channel *ch = NULL;
  lbc_connectivity_watch *a = NULL, *b = NULL;
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  CHECK_RC(lbc_channel_open("manual:", NULL, &ch), LBC_OK);
  CHECK_RC(lbc_channel_watch_connectivity(ch, cq, (void *)0xa, 0, &a), LBC_OK);
  CHECK_RC(lbc_channel_watch_connectivity(ch, cq, (void *)0xb, LBC_WATCH_ENDPOINTS, &b), LBC_OK);
  lbc_connectivity_watch_free(a);
  lbc_event ev[4];
  int n = lbc_cq_poll(cq, ev, sizeof ev[0], 4, 1000);
  CHECK(n == 1, "%d events after freeing a watch, expected 1", n);
  if (n == 1) {
    CHECK(ev[0].tag == (void *)0xa && ev[0].kind == LBC_EVENT_CONNECTIVITY, "wrong event");
    CHECK(ev[0].flags == LBC_CONNECTIVITY_LAST, "flags 0x%x", ev[0].flags);
    CHECK(ev[0].state == LBC_CONN_IDLE && ev[0].old_state == LBC_CONN_IDLE, "states %d/%d", ev[0].state,
          ev[0].old_state);
  }
  CHECK_RC(lbc_channel_set_endpoints(ch, g_addrs, 1), LBC_OK);
  struct recorder r;
  recorder_init(&r, (void *)0xb, LBC_CONN_IDLE);
  CHECK(pump(cq, &r, is_ready, 15), "watch b saw no READY (state %d)", r.channel_state);
  lbc_connectivity_watch_free(b);
  CHECK(pump(cq, &r, is_last, 5), "no LAST event for b");
  CHECK(r.channel_state == LBC_CONN_READY, "LAST of a freed watch says %d, expected the current READY",
        r.channel_state);
  lbc_channel_close(ch);
  CHECK_RC(lbc_cq_poll(cq, ev, sizeof ev[0], 4, 200), 0);  /* the freed watches got nothing at close */
  lbc_cq_free(cq);
}

/* A caller built against the first lbc_event (24 bytes on LP64) gets the event
 * without the appended fields, and nothing is allocated for it (ASan checks). */
TEST(test_small_event_size) {
  lbc_cq *cq = NULL;
  lbc_channel *ch = NULL;
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  CHECK_RC(lbc_channel_open("manual:", NULL, &ch), LBC_OK);
  CHECK_RC(lbc_channel_watch_connectivity(ch, cq, (void *)0xc, LBC_WATCH_ENDPOINTS, NULL), LBC_OK);
  CHECK_RC(lbc_channel_set_endpoints(ch, g_addrs, 1), LBC_OK);
  unsigned char slots[4][LBC_EVENT_MIN_SIZE + sizeof(void *)];
  memset(slots, 0xee, sizeof slots);
  size_t small = LBC_EVENT_MIN_SIZE;
  int n = lbc_cq_poll(cq, (lbc_event *)slots, small, 2, 2000);
  CHECK(n >= 1, "no event in 2 s: %d", n);
  for (int i = 0; i < n; i++) {
    const lbc_event *ev = (const lbc_event *)(slots[0] + (size_t)i * small);
    CHECK(ev->kind == LBC_EVENT_CONNECTIVITY && ev->tag == (void *)0xc, "kind %d", ev->kind);
  }
  /* The byte after the last slot written is untouched. */
  CHECK(((unsigned char *)slots)[(size_t)n * small] == 0xee, "poll wrote beyond event_size * n");
  lbc_channel_close(ch);
  /* Drain the rest with the full size (and free their addresses). */
  lbc_event ev[16];
  for (;;) {
    int m = lbc_cq_poll(cq, ev, sizeof ev[0], 16, 200);
    if (m <= 0) break;
    for (int i = 0; i < m; i++) lbc_free(ev[i].address);
  }
  lbc_cq_free(cq);
}

/* Watches made and freed on several threads while endpoints flap and another thread
 * polls: every watch gets exactly one LAST event (TSan checks the races). */
#define WATCH_THREADS 3
#define WATCHES_PER_THREAD 40
static lbc_channel *g_ch;
static lbc_cq *g_cq;
static lbc_connectivity_watch *g_kept[WATCH_THREADS][WATCHES_PER_THREAD];
static void *watch_churn(void *arg) {
  long base = (long)arg;
  int th = (int)(base / 1000) - 1;
  for (long i = 0; i < WATCHES_PER_THREAD; i++) {
    lbc_connectivity_watch *w = NULL;
    int rc = lbc_channel_watch_connectivity(g_ch, g_cq, (void *)(base + i), LBC_WATCH_ENDPOINTS, &w);
    CHECK(rc == LBC_OK, "watch: %d", rc);
    if (rc != LBC_OK) continue;
    if (i % 4 != 3)
      lbc_connectivity_watch_free(w);
    else
      g_kept[th][i] = w;  /* lasts until close; freed after it */
  }
  return NULL;
}
static void *flap(void *arg) {
  (void)arg;
  for (int i = 0; i < 30; i++) {
    CHECK_RC(lbc_channel_set_endpoints(g_ch, g_addrs + (i % 3), (size_t)(3 - i % 3)), LBC_OK);
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}
TEST(test_concurrent_watches) {
  static int last[WATCH_THREADS][WATCHES_PER_THREAD];
  memset(last, 0, sizeof last);
  CHECK_RC(lbc_cq_new(&g_cq), LBC_OK);
  CHECK_RC(lbc_channel_open(g_target, NULL, &g_ch), LBC_OK);
  pthread_t t[WATCH_THREADS + 1];
  for (long i = 0; i < WATCH_THREADS; i++) pthread_create(&t[i], NULL, watch_churn, (void *)(1000 * (i + 1)));
  pthread_create(&t[WATCH_THREADS], NULL, flap, NULL);
  int total_last = 0, events = 0;
  double end = now_s() + 30;
  int joined = 0;
  while (now_s() < end) {
    lbc_event ev[32];
    int n = lbc_cq_poll(g_cq, ev, sizeof ev[0], 32, 20);
    for (int i = 0; i < n; i++) {
      long tag = (long)ev[i].tag;
      int th = (int)(tag / 1000) - 1, k = (int)(tag % 1000);
      events++;
      lbc_free(ev[i].address);
      if (th < 0 || th >= WATCH_THREADS || k >= WATCHES_PER_THREAD) {
        CHECK(0, "unknown tag %ld", tag);
        continue;
      }
      CHECK(last[th][k] == 0, "event for tag %ld after its LAST", tag);
      if (ev[i].flags & LBC_CONNECTIVITY_LAST) {
        last[th][k] = 1;
        total_last++;
      }
    }
    if (!joined && n == 0) {
      for (int i = 0; i <= WATCH_THREADS; i++) pthread_join(t[i], NULL);
      joined = 1;
      lbc_channel_close(g_ch);  /* the remaining watches end here */
    }
    if (joined && total_last == WATCH_THREADS * WATCHES_PER_THREAD) break;
  }
  if (!joined) {
    for (int i = 0; i <= WATCH_THREADS; i++) pthread_join(t[i], NULL);
    lbc_channel_close(g_ch);
  }
  CHECK(total_last == WATCH_THREADS * WATCHES_PER_THREAD, "%d LAST events, expected %d (%d events)", total_last,
        WATCH_THREADS * WATCHES_PER_THREAD, events);
  for (int i = 0; i < WATCH_THREADS; i++)
    for (int k = 0; k < WATCHES_PER_THREAD; k++) lbc_connectivity_watch_free(g_kept[i][k]);
  lbc_event ev[4];
  CHECK_RC(lbc_cq_poll(g_cq, ev, sizeof ev[0], 4, 100), 0);  /* freeing after close posts nothing */
  lbc_cq_free(g_cq);
}

/* A log callback that does not return (a runtime lock the closer holds): close
 * returns after its bounded wait, and the SHUTDOWN event is there already. */
static pthread_mutex_t g_cb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cb_cond = PTHREAD_COND_INITIALIZER;
static int g_cb_entered, g_cb_release;
static void stuck_log(int level, const char *message, void *user_data) {
  (void)level, (void)message, (void)user_data;
  pthread_mutex_lock(&g_cb_lock);
  if (!g_cb_entered) {
    g_cb_entered = 1;
    pthread_cond_broadcast(&g_cb_cond);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    while (!g_cb_release && pthread_cond_timedwait(&g_cb_cond, &g_cb_lock, &until) == 0) {
    }
  }
  pthread_mutex_unlock(&g_cb_lock);
}
TEST(test_shutdown_event_when_close_outlives_a_callback) {
  lbc_cq *cq = NULL;
  lbc_channel *ch = NULL;
  lbc_options *opts = NULL;
  CHECK_RC(lbc_cq_new(&cq), LBC_OK);
  CHECK_RC(lbc_options_new(&opts), LBC_OK);
  CHECK_RC(lbc_options_set_log_callback(opts, stuck_log, NULL), LBC_OK);
  CHECK_RC(lbc_channel_open("manual:", opts, &ch), LBC_OK);
  lbc_options_free(opts);
  CHECK_RC(lbc_channel_watch_connectivity(ch, cq, (void *)0xd, 0, NULL), LBC_OK);
  CHECK_RC(lbc_channel_set_endpoints(ch, g_addrs, 1), LBC_OK);  /* logs "endpoints updated" */
  pthread_mutex_lock(&g_cb_lock);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10;
  while (!g_cb_entered && pthread_cond_timedwait(&g_cb_cond, &g_cb_lock, &until) == 0) {
  }
  int entered = g_cb_entered;
  pthread_mutex_unlock(&g_cb_lock);
  CHECK(entered, "the log callback never ran");
  double t0 = now_s();
  lbc_channel_close(ch);  /* returns after its bounded wait (2 s) */
  double took = now_s() - t0;
  CHECK(took < 10, "close took %.1f s", took);
  lbc_event ev[4];
  int n = lbc_cq_poll(cq, ev, sizeof ev[0], 4, 0);
  int found = 0;
  for (int i = 0; i < n; i++)
    if (ev[i].flags & LBC_CONNECTIVITY_LAST) found = ev[i].state == LBC_CONN_SHUTDOWN;
  CHECK(found, "no SHUTDOWN event pending when close returned (%d events)", n);
  pthread_mutex_lock(&g_cb_lock);
  g_cb_release = 1;
  pthread_cond_broadcast(&g_cb_cond);
  pthread_mutex_unlock(&g_cb_lock);
  CHECK_RC(lbc_cq_poll(cq, ev, sizeof ev[0], 4, 300), 0);  /* nothing after the last event */
  lbc_cq_free(cq);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s TARGET   (three test backends, see Tests/c/run.sh)\n", argv[0]);
    return 2;
  }
  g_target = argv[1];
  if (!split_target()) {
    fprintf(stderr, "%s: TARGET must be ipv4:A:P,B:P,C:P\n", argv[0]);
    return 2;
  }
  RUN(test_bad_arguments);
  RUN(test_manual_channel_states);
  RUN(test_channel_and_endpoint_events);
  RUN(test_watch_free);
  RUN(test_small_event_size);
  RUN(test_concurrent_watches);
  RUN(test_shutdown_event_when_close_outlives_a_callback);
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
