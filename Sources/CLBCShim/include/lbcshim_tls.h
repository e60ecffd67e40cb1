/* OpenSSL macros wrapped as functions for lbchannel's Swift code (Swift cannot call
 * function-like macros). The OpenSSL types are declared incomplete here so that
 * importing CLBCShim does not pull in <openssl/ssl.h>; in Swift they are
 * OpaquePointer, the same as COpenSSL's SSL * and SSL_CTX *. Not part of the public API. */
#ifndef LBCSHIM_TLS_H
#define LBCSHIM_TLS_H
#include <stddef.h>

struct ssl_st;
struct ssl_ctx_st;
struct bio_st;
struct x509_st;

/** SSL_set_tlsext_host_name: the SNI name. 1 on success. */
int lbcshim_ssl_set_sni(struct ssl_st *ssl, const char *name);
/** SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION). 1 on success. */
int lbcshim_ssl_ctx_min_tls12(struct ssl_ctx_st *ctx);
/** SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION). 1 on success. */
int lbcshim_ssl_ctx_min_tls13(struct ssl_ctx_st *ctx);
/** SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER). (Not SSL_MODE_RELEASE_BUFFERS:
 *  it would free and re-allocate the record buffers on every read and write.) */
void lbcshim_ssl_ctx_set_modes(struct ssl_ctx_st *ctx);
/** SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION). */
void lbcshim_ssl_ctx_set_options(struct ssl_ctx_st *ctx);
/** SSL_CTX_add1_chain_cert. 1 on success. */
int lbcshim_ssl_ctx_add1_chain_cert(struct ssl_ctx_st *ctx, struct x509_st *cert);
/** SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE). */
void lbcshim_ssl_ctx_client_session_cache(struct ssl_ctx_st *ctx);
/** BIO_get_mem_data: the readable bytes of a memory BIO; returns their count. */
long lbcshim_bio_get_mem_data(struct bio_st *bio, char **data);
/** BIO_set_mem_eof_return(bio, -1): an empty memory BIO reads as "retry", not EOF. */
void lbcshim_bio_set_mem_eof_retry(struct bio_st *bio);
/** SSL_get_peer_certificate's OpenSSL 3 name (SSL_get1_peer_certificate) is a function,
 *  but the constant X509_V_OK and the verify-result lookup are wrapped for symmetry:
 *  the peer's verification result (X509_V_OK = 0). */
long lbcshim_ssl_verify_result(const struct ssl_st *ssl);
/** X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS on the SSL's verify parameters, and the host
 *  (or IP address literal) the peer's certificate must name. 1 on success. */
int lbcshim_ssl_set_verify_name(struct ssl_st *ssl, const char *name, int is_ip);
#endif
