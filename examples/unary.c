/*
 * unary.c — the lbchannel C quick start.
 *
 *   cc -o unary unary.c $(pkg-config --cflags --libs lbchannel)
 *   ./unary ipv4:127.0.0.2:50051,127.0.0.3:50051,127.0.0.4:50051
 *
 * Opens a round-robin channel over the listed backends and sends a few unary
 * RPCs to /lbtest.Test/Echo (the test backend in Tests/python/backend.py), with
 * one request header, printing which endpoint served each.
 */
#include <lbchannel.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  const char *target = argc > 1 ? argv[1] : "ipv4:127.0.0.1:50051";
  lbc_options *opts = NULL;
  lbc_metadata *md = NULL;
  lbc_channel *ch = NULL;
  int rc, failures = 0;

  /* Options are copied by lbc_channel_open(): free them right after. */
  if ((rc = lbc_options_new(&opts)) != LBC_OK ||
      (rc = lbc_options_set(opts, "lb_policy", "round_robin")) != LBC_OK ||
      (rc = lbc_options_set(opts, "connect_timeout_ms", "5000")) != LBC_OK) {
    fprintf(stderr, "options: %s: %s\n", lbc_strerror(rc), lbc_last_errmsg());
    lbc_options_free(opts);
    return 1;
  }
  rc = lbc_channel_open(target, opts, &ch);
  lbc_options_free(opts);
  if (rc != LBC_OK) {
    fprintf(stderr, "lbc_channel_open(%s): %s: %s\n", target, lbc_strerror(rc), lbc_last_errmsg());
    return 1;
  }

  /* Request metadata: ASCII values; keys ending in -bin may carry any bytes. */
  if (lbc_metadata_new(&md) != LBC_OK || lbc_metadata_add(md, "x-request-id", "42", 2) != LBC_OK) {
    fprintf(stderr, "metadata: %s\n", lbc_last_errmsg());
    lbc_metadata_free(md);
    lbc_channel_close(ch);
    return 1;
  }

  for (int i = 0; i < 6; i++) {
    lbc_response *resp = NULL;
    const char *msg = "hello";
    /* Blocks until the RPC ends; 2 s deadline. LBC_OK means "the RPC has a status". */
    rc = lbc_unary(ch, "/lbtest.Test/Echo", msg, strlen(msg), md, 2000, &resp);
    if (rc != LBC_OK) {
      fprintf(stderr, "lbc_unary: %s: %s\n", lbc_strerror(rc), lbc_last_errmsg());
      failures++;
      continue;
    }
    int status = lbc_response_status(resp);
    if (status == LBC_STATUS_OK) {
      size_t len = 0;
      const uint8_t *data = lbc_response_data(resp, &len);
      printf("%-22s %.*s\n", lbc_response_peer(resp), (int)len, (const char *)data);
    } else {
      printf("RPC failed: %s: %s\n", lbc_status_name(status), lbc_response_message(resp));
      failures++;
    }
    lbc_response_free(resp);
  }

  /* A JSON snapshot of the endpoints; library-allocated, so lbc_free(). */
  char *json = NULL;
  if (lbc_channel_stats_json(ch, &json) == LBC_OK) {
    printf("%s\n", json);
    lbc_free(json);
  }

  lbc_metadata_free(md);
  lbc_channel_close(ch);
  return failures ? 1 : 0;
}
