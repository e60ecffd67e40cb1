/*
 * test_tls.c — lbchannel's TLS through the C API, against real grpcio TLS backends.
 *
 *   test_tls PKI_DIR TARGET
 *
 * PKI_DIR holds the certificates of Tests/python/tls_certs.py (ca.pem, rogue-ca.pem,
 * client.pem, client.key, ...); TARGET lists three running backends serving TLS
 * with PKI_DIR/server.pem (a certificate for "svc.test" only), e.g.
 * "ipv4:127.0.0.2:P,127.0.0.3:P,127.0.0.4:P". Tests/c/run-tls.sh makes the
 * certificates, starts the backends and passes both. Prints one line per failed
 * check and "N passed, M failed"; exits 1 if anything failed.
 */
#define _POSIX_C_SOURCE 200809L

#include <lbchannel.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_passed, g_failed;
static const char *g_test = "?";

#define CHECK(cond, ...)                                                     \
  do {                                                                       \
    if (cond) {                                                              \
      g_passed++;                                                            \
    } else {                                                                 \
      g_failed++;                                                            \
      printf("FAIL %s (%s:%d): ", g_test, __FILE__, __LINE__);               \
      printf(__VA_ARGS__);                                                   \
      printf("\n");                                                          \
      fflush(stdout);                                                        \
    }                                                                        \
  } while (0)

static const char *g_pki, *g_target;

static char *path(const char *name) {
  static char buf[4][1024];
  static int next;
  char *p = buf[next++ % 4];
  snprintf(p, sizeof buf[0], "%s/%s", g_pki, name);
  return p;
}

static char *read_file(const char *file, size_t *len) {
  FILE *f = fopen(file, "rb");
  if (!f) return NULL;
  char *data = malloc(1 << 16);
  *len = fread(data, 1, (1 << 16) - 1, f);
  data[*len] = '\0';
  fclose(f);
  return data;
}

/* One Whoami; returns the status, copies the message (or the reply) into out. */
static int whoami(lbc_channel *ch, char *out, size_t cap) {
  lbc_response *resp = NULL;
  int rc = lbc_unary(ch, "/lbtest.Test/Whoami", "", 0, NULL, 10000, &resp);
  if (rc != LBC_OK) {
    snprintf(out, cap, "rc %d: %s", rc, lbc_last_errmsg());
    return -1;
  }
  int status = lbc_response_status(resp);
  if (status == LBC_STATUS_OK) {
    size_t len;
    const uint8_t *data = lbc_response_data(resp, &len);
    snprintf(out, cap, "%.*s", (int)len, (const char *)data);
  } else {
    snprintf(out, cap, "%s", lbc_response_message(resp));
  }
  lbc_response_free(resp);
  return status;
}

/* Wait (up to 20 s) until `want` endpoints are READY, so that a round_robin loop
 * sees every backend even when handshakes are slow (sanitizer builds). */
static int wait_ready(lbc_channel *ch, int want) {
  for (int i = 0; i < 400; i++) {
    char *json = NULL;
    int ready = 0;
    if (lbc_channel_stats_json(ch, &json) == LBC_OK && json) {
      for (const char *p = json; (p = strstr(p, "\"state\":\"READY\"")) != NULL; p++) ready++;
    }
    lbc_free(json);
    if (ready >= want) return 1;
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  return 0;
}

static void test_balanced_tls_with_typed_setters(void) {
  g_test = "balanced_tls_with_typed_setters";
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL;
  CHECK(lbc_options_new(&opts) == LBC_OK, "options");
  CHECK(lbc_options_set_tls(opts, 1) == LBC_OK, "set_tls: %s", lbc_last_errmsg());
  CHECK(lbc_options_set_tls_roots(opts, path("ca.pem"), NULL, NULL, 0) == LBC_OK, "roots: %s", lbc_last_errmsg());
  CHECK(lbc_options_set_tls_server_name(opts, "svc.test") == LBC_OK, "server name");
  CHECK(lbc_options_set(opts, "lb_policy", "round_robin") == LBC_OK, "policy");
  int rc = lbc_channel_open(g_target, opts, &ch);
  lbc_options_free(opts);
  CHECK(rc == LBC_OK, "open: %s", lbc_last_errmsg());
  if (rc != LBC_OK) return;
  char first[512];
  CHECK(whoami(ch, first, sizeof first) == LBC_STATUS_OK, "first call: %s", first);
  CHECK(wait_ready(ch, 3), "all three TLS endpoints READY within 20 s");
  int seen[3] = {0, 0, 0};
  for (int i = 0; i < 30; i++) {
    char text[512];
    int status = whoami(ch, text, sizeof text);
    CHECK(status == LBC_STATUS_OK, "call %d: %d %s", i, status, text);
    if (status == LBC_STATUS_OK && strlen(text) == 2 && text[0] == 'b' && text[1] >= '1' && text[1] <= '3')
      seen[text[1] - '1'] = 1;
  }
  CHECK(seen[0] && seen[1] && seen[2], "all three backends answered (%d %d %d)", seen[0], seen[1], seen[2]);
  char *json = NULL;
  CHECK(lbc_channel_stats_json(ch, &json) == LBC_OK, "stats");
  CHECK(json && strstr(json, "\"full_handshakes\":1"), "stats has tls handshakes: %s", json ? json : "");
  lbc_free(json);
  CHECK(lbc_channel_reload_tls(ch) == LBC_OK, "reload: %s", lbc_channel_errmsg(ch));
  char text[512];
  CHECK(whoami(ch, text, sizeof text) == LBC_STATUS_OK, "after reload: %s", text);
  lbc_channel_close(ch);
}

static void test_string_options_and_pem(void) {
  g_test = "string_options_and_pem";
  size_t ca_len = 0;
  char *ca = read_file(path("ca.pem"), &ca_len);
  CHECK(ca != NULL, "read ca.pem");
  if (!ca) return;
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL;
  lbc_options_new(&opts);
  CHECK(lbc_options_set(opts, "tls", "true") == LBC_OK, "tls");
  CHECK(lbc_options_set(opts, "tls_ca_pem", ca) == LBC_OK, "tls_ca_pem: %s", lbc_last_errmsg());
  CHECK(lbc_options_set(opts, "tls_server_name", "svc.test") == LBC_OK, "tls_server_name");
  CHECK(lbc_options_set(opts, "tls_min_version", "1.3") == LBC_OK, "tls_min_version");
  CHECK(lbc_options_set(opts, "tls_min_version", "1.1") == LBC_ERR_INVALID_ARGUMENT, "1.1 refused");
  CHECK(lbc_options_set(opts, "tls_ca_pem", "garbage") == LBC_ERR_INVALID_ARGUMENT, "non-PEM refused");
  CHECK(lbc_options_set(opts, "tls_insecure", "1") == LBC_ERR_UNKNOWN_OPTION, "no skip-verify switch");
  int rc = lbc_channel_open(g_target, opts, &ch);
  lbc_options_free(opts);
  free(ca);
  CHECK(rc == LBC_OK, "open: %s", lbc_last_errmsg());
  if (rc != LBC_OK) return;
  char text[512];
  CHECK(whoami(ch, text, sizeof text) == LBC_STATUS_OK, "call: %s", text);
  lbc_channel_close(ch);
}

static void test_untrusted_and_wrong_name(void) {
  g_test = "untrusted_and_wrong_name";
  struct { const char *ca, *name, *expect; } cases[] = {
      {"rogue-ca.pem", "svc.test", "unable to get local issuer certificate"},
      {"ca.pem", "wrong.test", "hostname mismatch"},
      {"ca.pem", NULL, "IP address mismatch"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    lbc_options *opts = NULL;
    lbc_channel *ch = NULL;
    lbc_options_new(&opts);
    lbc_options_set_tls(opts, 1);
    lbc_options_set_tls_roots(opts, path(cases[i].ca), NULL, NULL, 0);
    lbc_options_set_tls_server_name(opts, cases[i].name);
    int rc = lbc_channel_open(g_target, opts, &ch);
    lbc_options_free(opts);
    CHECK(rc == LBC_OK, "open: %s", lbc_last_errmsg());
    if (rc != LBC_OK) continue;
    char text[1024];
    int status = whoami(ch, text, sizeof text);
    CHECK(status == LBC_STATUS_UNAVAILABLE, "case %zu: status %d", i, status);
    CHECK(strstr(text, "certificate verify failed") && strstr(text, cases[i].expect), "case %zu: %s", i, text);
    lbc_channel_close(ch);
  }
}

static void test_open_refuses_unusable_files(void) {
  g_test = "open_refuses_unusable_files";
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL;
  lbc_options_new(&opts);
  lbc_options_set_tls(opts, 1);
  CHECK(lbc_options_set_tls_roots(opts, "/nonexistent/ca.pem", NULL, NULL, 0) == LBC_OK, "setter copies only");
  CHECK(lbc_channel_open(g_target, opts, &ch) == LBC_ERR_INVALID_ARGUMENT, "missing CA file");
  CHECK(strstr(lbc_last_errmsg(), "tls_ca_file \"/nonexistent/ca.pem\": cannot open: No such file or directory"),
        "message: %s", lbc_last_errmsg());
  CHECK(ch == NULL, "out untouched");
  lbc_options_set_tls_roots(opts, path("ca.pem"), NULL, NULL, 0);
  lbc_options_set_tls_client_cert_files(opts, NULL, path("client.key"));
  CHECK(lbc_channel_open(g_target, opts, &ch) == LBC_ERR_INVALID_ARGUMENT, "key without certificate");
  CHECK(strstr(lbc_last_errmsg(), "needs its certificate"), "message: %s", lbc_last_errmsg());
  lbc_options_set_tls_client_cert_files(opts, path("client.pem"), path("server.key"));
  CHECK(lbc_channel_open(g_target, opts, &ch) == LBC_ERR_INVALID_ARGUMENT, "mismatched key");
  CHECK(strstr(lbc_last_errmsg(), "does not match the client certificate"), "message: %s", lbc_last_errmsg());
  size_t cert_len = 0, key_len = 0;
  char *cert = read_file(path("client.pem"), &cert_len), *key = read_file(path("client.key"), &key_len);
  CHECK(lbc_options_set_tls_client_cert_pem(opts, cert, cert_len, key, key_len) == LBC_OK, "pem client cert");
  CHECK(lbc_channel_open(g_target, opts, &ch) == LBC_OK, "client cert from memory: %s", lbc_last_errmsg());
  lbc_channel_close(ch);
  free(cert);
  free(key);
  lbc_options_set_tls(opts, 0);
  CHECK(lbc_channel_open(g_target, opts, &ch) == LBC_ERR_INVALID_ARGUMENT, "tls settings with tls off");
  CHECK(lbc_options_set_tls(NULL, 1) == LBC_ERR_INVALID_ARGUMENT, "NULL opts");
  lbc_options_free(opts);
  CHECK(lbc_channel_reload_tls(NULL) == LBC_ERR_INVALID_ARGUMENT, "reload NULL");
  lbc_channel *plain = NULL;
  CHECK(lbc_channel_open(g_target, NULL, &plain) == LBC_OK, "plaintext open");
  CHECK(lbc_channel_reload_tls(plain) == LBC_ERR_INVALID_ARGUMENT, "reload on plaintext");
  CHECK(strstr(lbc_channel_errmsg(plain), "does not use TLS"), "message: %s", lbc_channel_errmsg(plain));
  char text[1024];
  CHECK(whoami(plain, text, sizeof text) == LBC_STATUS_UNAVAILABLE && strstr(text, "TLS server on a plaintext channel"),
        "plaintext channel to TLS servers: %s", text);
  lbc_channel_close(plain);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PKI_DIR TARGET\n", argv[0]);
    return 2;
  }
  g_pki = argv[1];
  g_target = argv[2];
  test_balanced_tls_with_typed_setters();
  test_string_options_and_pem();
  test_untrusted_and_wrong_name();
  test_open_refuses_unusable_files();
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
