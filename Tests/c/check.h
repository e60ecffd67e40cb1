/*
 * check.h — what test_unary.c, test_connectivity.c and test_retry.c share: the tiny assertion
 * framework (CHECK records a pass or prints a failure and goes on; RUN names the
 * test case the failures belong to; the program prints "N passed, M failed" from
 * g_passed / g_failed at the end; thread-safe) and unused_port().
 * Include after <lbchannel.h>.
 */
#ifndef LBC_TEST_CHECK_H
#define LBC_TEST_CHECK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int g_passed, g_failed;
static const char *g_test = "?";
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void check_(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void check_(int ok, const char *file, int line, const char *fmt, ...) {
  pthread_mutex_lock(&g_lock);
  if (ok) {
    g_passed++;
  } else {
    va_list ap;
    g_failed++;
    fprintf(stdout, "FAIL %s (%s:%d): ", g_test, file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fprintf(stdout, "\n");
    fflush(stdout);
  }
  pthread_mutex_unlock(&g_lock);
}

/* CHECK(cond, "printf format", ...): record a pass or a failure with a message. */
#define CHECK(cond, ...) check_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
/* CHECK_RC(expr, expected): an lbc_* call returns the expected code. */
#define CHECK_RC(expr, expected)                                                        \
  do {                                                                                  \
    int rc_ = (expr);                                                                   \
    int want_ = (expected);                                                             \
    CHECK(rc_ == want_, "%s returned %d (%s), expected %d (%s); last_errmsg: \"%s\"",   \
          #expr, rc_, lbc_strerror(rc_), want_, lbc_strerror(want_), lbc_last_errmsg()); \
  } while (0)
/* TEST(name) { ... } defines a case; RUN(name) runs it under its name. */
#define TEST(name) static void name(void)
#define RUN(name)            \
  do {                       \
    g_test = #name;          \
    printf("- %s\n", #name); \
    fflush(stdout);          \
    name();                  \
  } while (0)

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
static inline int unused_port(void) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int port = 0;
  if (fd < 0) return 0;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
      getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
    port = ntohs(sa.sin_port);
  close(fd);
  return port;
}

#endif
