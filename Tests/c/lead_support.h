/*
 * lead_support.h — what test_cq_lead.c and test_stream_lead.c observe: the threads
 * lbc_channel_open started (its I/O thread among them) and their figures in
 * /proc/self/task/TID (read system calls in "io", voluntary context switches in
 * "status"), plus time helpers stretched for sanitizer builds. Include after
 * check.h; the including file defines `static const char *g_target;` first.
 */
#ifndef LBC_TEST_LEAD_SUPPORT_H
#define LBC_TEST_LEAD_SUPPORT_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Sanitizer builds run several times slower: LBC_TEST_TIME_SCALE (make sanitize sets
 * it) stretches the time guards; delivery checks stay exact. */
static double time_scale(void) {
  const char *s = getenv("LBC_TEST_TIME_SCALE");
  double f = s ? atof(s) : 1.0;
  return f >= 1.0 ? f : 1.0;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* The thread ids of this process, into ids (at most cap); returns how many. */
static int task_ids(long *ids, int cap) {
  DIR *d = opendir("/proc/self/task");
  int n = 0;
  if (!d) return 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.') continue;
    if (n < cap) ids[n++] = atol(e->d_name);
  }
  closedir(d);
  return n;
}

static int contains(const long *ids, int n, long id) {
  for (int i = 0; i < n; i++)
    if (ids[i] == id) return 1;
  return 0;
}

/* A figure of thread `tid`: `key` ("voluntary_ctxt_switches:" from `file` "status",
 * "syscr:" -- read system calls -- from "io"); -1 when the thread is gone. */
static long thread_figure(long tid, const char *file, const char *key) {
  char path[64], line[256];
  long v = -1;
  size_t klen = strlen(key);
  snprintf(path, sizeof path, "/proc/self/task/%ld/%s", tid, file);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, klen) == 0) {
      v = atol(line + klen);
      break;
    }
  fclose(f);
  return v;
}

/* A channel and the threads its opening started (its I/O thread among them). */
typedef struct {
  lbc_channel *ch;
  long tids[16];
  int ntids;
} opened;

static void open_channel(opened *o) {
  long before[256], after[256];
  int nb = task_ids(before, 256);
  lbc_options *opts = NULL;
  memset(o, 0, sizeof *o);
  CHECK_RC(lbc_options_new(&opts), LBC_OK);
  CHECK_RC(lbc_options_set(opts, "lb_policy", "round_robin"), LBC_OK);
  CHECK_RC(lbc_channel_open(g_target, opts, &o->ch), LBC_OK);
  lbc_options_free(opts);
  int na = task_ids(after, 256);
  for (int i = 0; i < na; i++)
    if (!contains(before, nb, after[i]) && o->ntids < 16) o->tids[o->ntids++] = after[i];
  CHECK(o->ntids >= 1, "lbc_channel_open started no thread (%d)", o->ntids);
}

/* The sum of a figure over the channel's threads. */
static long channel_figure(const opened *o, const char *file, const char *key) {
  long sum = 0;
  for (int i = 0; i < o->ntids; i++) {
    long v = thread_figure(o->tids[i], file, key);
    if (v > 0) sum += v;
  }
  return sum;
}

#endif
