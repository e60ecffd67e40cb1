/*
 * greeter.c — real protobuf messages from C: lbchannel carries the bytes,
 * protobuf-c encodes the requests and decodes the responses.
 *
 * The service is lbtest.Greeter (Tests/python/protos/lbtest.proto), served by the
 * grpcio test backend (Tests/python/backend.py):
 *
 *   rpc SayHello (HelloRequest) returns (HelloReply);               "Hello, <name> from <backend>"
 *   rpc SayHelloStream (HelloRequest) returns (stream HelloReply);  "Hello, <name> (i/3) from <backend>"
 *
 * Build (Debian: libprotobuf-c-dev, protobuf-c-compiler):
 *
 *   protoc-c --c_out=. -I Tests/python/protos lbtest.proto       # lbtest.pb-c.c, lbtest.pb-c.h
 *   cc -o greeter examples/protobuf-c/greeter.c lbtest.pb-c.c -I. \
 *       $(pkg-config --cflags --libs lbchannel libprotobuf-c)
 *   ./greeter ipv4:127.0.0.2:50051,127.0.0.3:50051
 *
 * Sends six balanced SayHello calls, one that the server fails on purpose (a name
 * "!5:..." makes it answer NOT_FOUND), and one server-streaming SayHelloStream
 * call; checks every decoded reply and exits non-zero on any mismatch (`make test`
 * runs it against three backends).
 */
#include <lbchannel.h>
#include <protobuf-c/protobuf-c.h>

#include "lbtest.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAY_HELLO "/lbtest.Greeter/SayHello"
#define SAY_HELLO_STREAM "/lbtest.Greeter/SayHelloStream"

static int failures;

/* Encode a HelloRequest into a malloc'ed buffer; NULL when out of memory. */
static uint8_t *encode_request(const char *name, size_t *len) {
  Lbtest__HelloRequest req = LBTEST__HELLO_REQUEST__INIT;
  req.name = (char *)name; /* protobuf-c only reads it */
  *len = lbtest__hello_request__get_packed_size(&req);
  uint8_t *buf = malloc(*len ? *len : 1);
  if (buf) lbtest__hello_request__pack(&req, buf);
  return buf;
}

/* Decode a HelloReply and check that it reads "Hello, <expected> from <backend>".
 * Returns 1 if so (and prints it), 0 otherwise. */
static int check_reply(const uint8_t *data, size_t len, const char *expected, const char *peer) {
  Lbtest__HelloReply *reply = lbtest__hello_reply__unpack(NULL, len, data);
  if (!reply) {
    fprintf(stderr, "  %s: the response (%zu bytes) is not a HelloReply\n", peer, len);
    failures++;
    return 0;
  }
  char prefix[256];
  snprintf(prefix, sizeof prefix, "Hello, %s from ", expected);
  const char *backend = strncmp(reply->message, prefix, strlen(prefix)) == 0 ? reply->message + strlen(prefix) : NULL;
  int ok = backend && *backend;
  if (ok) {
    printf("  %-22s %s\n", peer, reply->message);
  } else {
    fprintf(stderr, "  %s: unexpected reply \"%s\" (wanted \"%s<backend>\")\n", peer, reply->message, prefix);
    failures++;
  }
  lbtest__hello_reply__free_unpacked(reply, NULL);
  return ok;
}

/* One unary SayHello; returns the RPC's status (-1 on an API error). */
static int say_hello(lbc_channel *ch, const char *name, lbc_response **out) {
  size_t len;
  uint8_t *req = encode_request(name, &len);
  if (!req) return -1;
  int rc = lbc_unary(ch, SAY_HELLO, req, len, NULL, 5000, out);
  free(req); /* lbc_unary copied it */
  if (rc != LBC_OK) {
    fprintf(stderr, "lbc_unary: %s: %s\n", lbc_strerror(rc), lbc_last_errmsg());
    return -1;
  }
  return lbc_response_status(*out);
}

static void unary_calls(lbc_channel *ch) {
  printf("SayHello x 6 (round_robin):\n");
  for (int i = 0; i < 6; i++) {
    lbc_response *resp = NULL;
    int status = say_hello(ch, "protobuf-c", &resp);
    if (status == LBC_STATUS_OK) {
      size_t len = 0;
      const uint8_t *data = lbc_response_data(resp, &len);
      check_reply(data, len, "protobuf-c", lbc_response_peer(resp));
    } else {
      fprintf(stderr, "  SayHello: %s\n", status < 0 ? "API error" : lbc_status_name(status));
      failures++;
    }
    lbc_response_free(resp);
  }

  /* The server fails this one on purpose: a status and its message, no reply. */
  lbc_response *resp = NULL;
  int status = say_hello(ch, "!5:no greeting for you", &resp);
  if (status == LBC_STATUS_NOT_FOUND && strcmp(lbc_response_message(resp), "no greeting for you") == 0) {
    printf("SayHello(\"!5:...\"): %s: %s (as asked)\n", lbc_status_name(status), lbc_response_message(resp));
  } else {
    fprintf(stderr, "SayHello(\"!5:...\"): wanted NOT_FOUND, got %d\n", status);
    failures++;
  }
  lbc_response_free(resp);
}

static void streaming_call(lbc_channel *ch) {
  lbc_call *call = NULL;
  int rc = lbc_call_start(ch, SAY_HELLO_STREAM, NULL, 5000, NULL, NULL, &call);
  if (rc != LBC_OK) {
    fprintf(stderr, "lbc_call_start: %s: %s\n", lbc_strerror(rc), lbc_last_errmsg());
    failures++;
    return;
  }
  size_t len;
  uint8_t *req = encode_request("stream", &len);
  rc = req ? lbc_call_send(call, req, len, LBC_SEND_END, -1) : LBC_ERR_RESOURCE; /* one request, then half-close */
  free(req);
  if (rc != LBC_OK) {
    fprintf(stderr, "lbc_call_send: %s\n", lbc_strerror(rc));
    failures++;
    lbc_call_free(call);
    return;
  }
  printf("SayHelloStream:\n");
  int received = 0;
  void *msg;
  size_t msg_len;
  while ((rc = lbc_call_recv(call, -1, &msg, &msg_len)) == LBC_OK) {
    char expected[64];
    snprintf(expected, sizeof expected, "stream (%d/3)", ++received);
    check_reply(msg, msg_len, expected, lbc_call_peer(call));
    lbc_free(msg);
  }
  int status = -1;
  const char *details = NULL;
  if (rc != LBC_END || lbc_call_finish(call, -1, &status, &details, NULL) != LBC_OK || status != LBC_STATUS_OK ||
      received != 3) {
    fprintf(stderr, "SayHelloStream: %d replies, rc %d, status %d (%s)\n", received, rc, status,
            details ? details : "");
    failures++;
  }
  lbc_call_free(call);
}

int main(int argc, char **argv) {
  const char *target = argc > 1 ? argv[argc - 1] : "ipv4:127.0.0.2:50051";
  lbc_options *opts = NULL;
  lbc_channel *ch = NULL;
  int rc;

  if ((rc = lbc_options_new(&opts)) != LBC_OK || (rc = lbc_options_set(opts, "lb_policy", "round_robin")) != LBC_OK) {
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
  printf("protobuf-c %s, lbchannel %s\n", protobuf_c_version(), lbc_version());
  unary_calls(ch);
  streaming_call(ch);
  lbc_channel_close(ch);
  if (failures) {
    fprintf(stderr, "greeter: %d failure(s)\n", failures);
    return 1;
  }
  printf("greeter: all replies decoded as expected\n");
  return 0;
}
