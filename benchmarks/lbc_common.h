/*
 * lbc_common.h — what the lbchannel benchmark drivers (lbc_load.c, lbc_stream.c)
 * share: opening the round_robin channel and waiting for its endpoints.
 */
#ifndef BENCH_LBC_COMMON_H
#define BENCH_LBC_COMMON_H

#include <lbchannel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load_common.h"
#include "tls_common.h"

/* Endpoints READY in the channel's stats, -1 if they cannot be read. */
static inline int bench_ready_endpoints(lbc_channel *ch) {
  char *json = NULL;
  if (lbc_channel_stats_json(ch, &json) != LBC_OK) return -1;
  int n = 0;
  for (const char *p = json; (p = strstr(p, "\"READY\"")); p++) n++;
  lbc_free(json);
  return n;
}

/* A channel to a->target with a->expect_endpoints READY (10 s at most), policy
 * round_robin unless $LBC_BENCH_POLICY names another; NULL after printing why. */
static inline lbc_channel *bench_open_channel(const bench_args *a, const char *prog) {
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL;
  const char *policy = getenv("LBC_BENCH_POLICY");
  if (lbc_options_new(&opts) != LBC_OK ||
      lbc_options_set(opts, "lb_policy", policy && *policy ? policy : "round_robin") != LBC_OK) {
    fprintf(stderr, "%s: options: %s\n", prog, lbc_last_errmsg());
    return NULL;
  }
  const char *ca = getenv("BENCH_TLS_CA"), *name = getenv("BENCH_TLS_NAME");
  if (ca && (lbc_options_set_tls(opts, 1) != LBC_OK ||
             lbc_options_set_tls_roots(opts, ca, NULL, NULL, 0) != LBC_OK ||
             (name && lbc_options_set_tls_server_name(opts, name) != LBC_OK))) {
    fprintf(stderr, "%s: TLS options: %s\n", prog, lbc_last_errmsg());
    lbc_options_free(opts);
    return NULL;
  }
  int rc = lbc_channel_open(a->target, opts, &ch);
  lbc_options_free(opts);
  if (rc != LBC_OK) {
    fprintf(stderr, "%s: open %s: %s\n", prog, a->target, lbc_last_errmsg());
    return NULL;
  }
  const char *wait_s = getenv("LBC_BENCH_READY_TIMEOUT_S"); /* slow runs (valgrind, 1,000 endpoints) */
  uint64_t until = bench_now_ns() + (wait_s && atoi(wait_s) > 0 ? (uint64_t)atoi(wait_s) : 10u) * 1000000000ull;
  while (a->expect_endpoints > 0 && bench_ready_endpoints(ch) < a->expect_endpoints) {
    if (bench_now_ns() > until) {
      fprintf(stderr, "%s: only %d of %d endpoints READY in time\n", prog, bench_ready_endpoints(ch),
              a->expect_endpoints);
      lbc_channel_close(ch);
      return NULL;
    }
    usleep(2000);
  }
  return ch;
}

#endif
