/*
 * pb.h — just enough protobuf (proto3 wire format) for lbchannel's C interop
 * tests: a growable output buffer with varint / length-delimited writers, a
 * field reader, and encoders/decoders of the grpc.testing messages the interop
 * cases use (Tests/interop/proto/grpc/testing/messages.proto).
 *
 * Header-only (static functions); no dependency beyond libc. Encoders return
 * 0 or -1 (out of memory: the buffer is then marked failed and every later
 * write is a no-op); decoders return 0 or -1 (malformed input).
 */
#ifndef LBC_TEST_PB_H
#define LBC_TEST_PB_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Wire types. */
enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

/* ------------------------------------------------------------------------- */
/* Writing                                                                    */
/* ------------------------------------------------------------------------- */

typedef struct pb_buf {
  uint8_t *data;
  size_t len, cap;
  int failed; /* an allocation failed: the content is incomplete */
} pb_buf;

static inline void pb_buf_free(pb_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static inline int pb_reserve(pb_buf *b, size_t extra) {
  if (b->failed) return -1;
  if (b->len + extra <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra) cap *= 2;
  uint8_t *p = (uint8_t *)realloc(b->data, cap);
  if (!p) {
    b->failed = 1;
    return -1;
  }
  b->data = p;
  b->cap = cap;
  return 0;
}

static inline int pb_put_raw(pb_buf *b, const void *p, size_t n) {
  if (pb_reserve(b, n ? n : 1)) return -1;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

/* n zero bytes (payload bodies of the interop cases are zeros). */
static inline int pb_put_zeros(pb_buf *b, size_t n) {
  if (pb_reserve(b, n ? n : 1)) return -1;
  memset(b->data + b->len, 0, n);
  b->len += n;
  return 0;
}

static inline int pb_put_varint(pb_buf *b, uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    tmp[n] = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v) tmp[n] |= 0x80;
    n++;
  } while (v);
  return pb_put_raw(b, tmp, n);
}

static inline int pb_put_tag(pb_buf *b, uint32_t field, int wire_type) {
  return pb_put_varint(b, ((uint64_t)field << 3) | (uint64_t)wire_type);
}

/* A varint field (int32, int64, uint32, bool, enum). Negative int32 values are
 * sign-extended to 64 bits as protobuf does. proto3 default (0) is skipped. */
static inline int pb_put_int(pb_buf *b, uint32_t field, int64_t v) {
  if (v == 0) return 0;
  if (pb_put_tag(b, field, PB_VARINT)) return -1;
  return pb_put_varint(b, (uint64_t)v);
}

/* A length-delimited field (bytes, string or an encoded sub-message). Written
 * even when empty (a present, empty sub-message). */
static inline int pb_put_bytes(pb_buf *b, uint32_t field, const void *p, size_t n) {
  if (pb_put_tag(b, field, PB_LEN) || pb_put_varint(b, n)) return -1;
  return pb_put_raw(b, p, n);
}

/* A length-delimited field holding n zero bytes. */
static inline int pb_put_zero_bytes(pb_buf *b, uint32_t field, size_t n) {
  if (pb_put_tag(b, field, PB_LEN) || pb_put_varint(b, n)) return -1;
  return pb_put_zeros(b, n);
}

/* ------------------------------------------------------------------------- */
/* Reading                                                                    */
/* ------------------------------------------------------------------------- */

typedef struct pb_reader {
  const uint8_t *p, *end;
} pb_reader;

typedef struct pb_field {
  uint32_t number;
  int wire_type;
  uint64_t varint;      /* PB_VARINT (and the raw value of I32/I64) */
  const uint8_t *data;  /* PB_LEN */
  size_t len;           /* PB_LEN */
} pb_field;

static inline pb_reader pb_reader_init(const void *data, size_t len) {
  pb_reader r;
  r.p = (const uint8_t *)data;
  r.end = r.p + len;
  if (!data) r.p = r.end = NULL;
  return r;
}

static inline int pb_get_varint(pb_reader *r, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end) return -1;
    uint8_t byte = *r->p++;
    v |= (uint64_t)(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

/* Next field: 1 = got one, 0 = end of input, -1 = malformed. */
static inline int pb_next(pb_reader *r, pb_field *f) {
  uint64_t key, v;
  if (r->p == r->end) return 0;
  if (pb_get_varint(r, &key)) return -1;
  memset(f, 0, sizeof *f);
  f->number = (uint32_t)(key >> 3);
  f->wire_type = (int)(key & 7);
  if (f->number == 0) return -1;
  switch (f->wire_type) {
    case PB_VARINT:
      if (pb_get_varint(r, &f->varint)) return -1;
      return 1;
    case PB_I64:
    case PB_I32: {
      size_t n = f->wire_type == PB_I64 ? 8 : 4;
      if ((size_t)(r->end - r->p) < n) return -1;
      v = 0;
      for (size_t i = 0; i < n; i++) v |= (uint64_t)r->p[i] << (8 * i);
      f->varint = v;
      r->p += n;
      return 1;
    }
    case PB_LEN:
      if (pb_get_varint(r, &v)) return -1;
      if (v > (uint64_t)(r->end - r->p)) return -1;
      f->data = r->p;
      f->len = (size_t)v;
      r->p += v;
      return 1;
    default:
      return -1; /* groups are not used by these messages */
  }
}

/* ------------------------------------------------------------------------- */
/* grpc.testing messages                                                      */
/* ------------------------------------------------------------------------- */

/* Payload { PayloadType type = 1; bytes body = 2; } with a zero body. */
static inline int pb_put_payload(pb_buf *b, uint32_t field, size_t body_len) {
  pb_buf sub = {0};
  int rc = pb_put_zero_bytes(&sub, 2, body_len);
  if (rc == 0) rc = pb_put_bytes(b, field, sub.data, sub.len);
  pb_buf_free(&sub);
  return rc;
}

/* EchoStatus { int32 code = 1; string message = 2; } */
static inline int pb_put_echo_status(pb_buf *b, uint32_t field, int code, const char *message) {
  pb_buf sub = {0};
  int rc = pb_put_int(&sub, 1, code);
  if (rc == 0 && message && *message) rc = pb_put_bytes(&sub, 2, message, strlen(message));
  if (rc == 0) rc = pb_put_bytes(b, field, sub.data, sub.len);
  pb_buf_free(&sub);
  return rc;
}

/* ResponseParameters { int32 size = 1; int32 interval_us = 2; } */
static inline int pb_put_response_parameters(pb_buf *b, uint32_t field, int32_t size,
                                             int32_t interval_us) {
  pb_buf sub = {0};
  int rc = pb_put_int(&sub, 1, size);
  if (rc == 0) rc = pb_put_int(&sub, 2, interval_us);
  if (rc == 0) rc = pb_put_bytes(b, field, sub.data, sub.len);
  pb_buf_free(&sub);
  return rc;
}

/* SimpleRequest: response_size = 2, payload = 3 (omitted when payload_len < 0),
 * response_status = 7 (omitted when status_code == 0 and status_message NULL). */
static inline int pb_simple_request(pb_buf *b, int32_t response_size, long payload_len,
                                    int status_code, const char *status_message) {
  int rc = pb_put_int(b, 2, response_size);
  if (rc == 0 && payload_len >= 0) rc = pb_put_payload(b, 3, (size_t)payload_len);
  if (rc == 0 && (status_code != 0 || status_message))
    rc = pb_put_echo_status(b, 7, status_code, status_message);
  return rc;
}

/* StreamingOutputCallRequest: response_parameters = 2 (one per entry of
 * sizes[0..n), each with interval_us), payload = 3 (omitted when payload_len
 * < 0), response_status = 7 (as for pb_simple_request). */
static inline int pb_streaming_output_request(pb_buf *b, const int32_t *sizes, size_t n,
                                              int32_t interval_us, long payload_len,
                                              int status_code, const char *status_message) {
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < n; i++)
    rc = pb_put_response_parameters(b, 2, sizes[i], interval_us);
  if (rc == 0 && payload_len >= 0) rc = pb_put_payload(b, 3, (size_t)payload_len);
  if (rc == 0 && (status_code != 0 || status_message))
    rc = pb_put_echo_status(b, 7, status_code, status_message);
  return rc;
}

/* StreamingInputCallRequest { Payload payload = 1; } */
static inline int pb_streaming_input_request(pb_buf *b, size_t payload_len) {
  return pb_put_payload(b, 1, payload_len);
}

/* The body of the Payload in field `payload_field` of a message (field 1 of
 * SimpleResponse and StreamingOutputCallResponse). An absent payload or body
 * gives length 0. Also tells whether every body byte is zero. The last
 * occurrence wins, as protobuf merges (sub-messages merge, but body is a scalar). */
static inline int pb_get_payload_body(const void *msg, size_t len, uint32_t payload_field,
                                      const uint8_t **body, size_t *body_len, int *all_zero) {
  pb_reader r = pb_reader_init(msg, len);
  pb_field f;
  int rc;
  const uint8_t *bp = NULL;
  size_t bl = 0;
  while ((rc = pb_next(&r, &f)) == 1) {
    if (f.number != payload_field) continue;
    if (f.wire_type != PB_LEN) return -1;
    pb_reader pr = pb_reader_init(f.data, f.len);
    pb_field pf;
    int prc;
    while ((prc = pb_next(&pr, &pf)) == 1) {
      if (pf.number == 2) {
        if (pf.wire_type != PB_LEN) return -1;
        bp = pf.data;
        bl = pf.len;
      }
    }
    if (prc < 0) return -1;
  }
  if (rc < 0) return -1;
  if (body) *body = bp;
  if (body_len) *body_len = bl;
  if (all_zero) {
    int z = 1;
    for (size_t i = 0; i < bl; i++)
      if (bp[i]) {
        z = 0;
        break;
      }
    *all_zero = z;
  }
  return 0;
}

/* A varint field of a message (e.g. StreamingInputCallResponse.aggregated_payload_size
 * = 1); absent gives 0. */
static inline int pb_get_varint_field(const void *msg, size_t len, uint32_t field, uint64_t *out) {
  pb_reader r = pb_reader_init(msg, len);
  pb_field f;
  int rc;
  uint64_t v = 0;
  while ((rc = pb_next(&r, &f)) == 1) {
    if (f.number != field) continue;
    if (f.wire_type != PB_VARINT) return -1;
    v = f.varint;
  }
  if (rc < 0) return -1;
  *out = v;
  return 0;
}

#endif /* LBC_TEST_PB_H */
