#include "lbcshim_tls.h"
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

int lbcshim_ssl_set_sni(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }

int lbcshim_ssl_ctx_min_tls12(SSL_CTX *ctx) { return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION); }

int lbcshim_ssl_ctx_min_tls13(SSL_CTX *ctx) { return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION); }

void lbcshim_ssl_ctx_set_modes(SSL_CTX *ctx) {
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

void lbcshim_ssl_ctx_set_options(SSL_CTX *ctx) {
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
}

int lbcshim_ssl_ctx_add1_chain_cert(SSL_CTX *ctx, X509 *cert) { return (int)SSL_CTX_add1_chain_cert(ctx, cert); }

void lbcshim_ssl_ctx_client_session_cache(SSL_CTX *ctx) {
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
}

long lbcshim_bio_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }

void lbcshim_bio_set_mem_eof_retry(BIO *bio) { (void)BIO_set_mem_eof_return(bio, -1); }

long lbcshim_ssl_verify_result(const SSL *ssl) { return SSL_get_verify_result(ssl); }

int lbcshim_ssl_set_verify_name(SSL *ssl, const char *name, int is_ip) {
  X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (is_ip) return X509_VERIFY_PARAM_set1_ip_asc(param, name);
  return X509_VERIFY_PARAM_set1_host(param, name, 0);
}
