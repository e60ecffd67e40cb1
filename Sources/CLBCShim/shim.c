#define _GNU_SOURCE
#include "lbcshim.h"
#include "lbcshim_fork.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Thread_local char lbcshim_tls_errmsg[1024];
static _Thread_local const void *lbcshim_tls_err_handle;

void lbcshim_set_errmsg(const char *msg) {
  lbcshim_tls_err_handle = NULL;
  if (msg == NULL) { lbcshim_tls_errmsg[0] = '\0'; return; }
  size_t n = strlen(msg);
  if (n >= sizeof lbcshim_tls_errmsg) n = sizeof lbcshim_tls_errmsg - 1;
  memcpy(lbcshim_tls_errmsg, msg, n);
  lbcshim_tls_errmsg[n] = '\0';
}

const char *lbcshim_errmsg(void) { return lbcshim_tls_errmsg; }

void lbcshim_set_errmsg_for(const void *handle, const char *msg) {
  lbcshim_set_errmsg(msg);
  lbcshim_tls_err_handle = handle;
}

const char *lbcshim_errmsg_for(const void *handle) {
  return (handle != NULL && handle == lbcshim_tls_err_handle) ? lbcshim_tls_errmsg : "";
}

_Static_assert(LBCSHIM_EPOLLIN == EPOLLIN, "EPOLLIN");
_Static_assert(LBCSHIM_EPOLLOUT == EPOLLOUT, "EPOLLOUT");
_Static_assert(LBCSHIM_EPOLLERR == EPOLLERR, "EPOLLERR");
_Static_assert(LBCSHIM_EPOLLHUP == EPOLLHUP, "EPOLLHUP");
_Static_assert(LBCSHIM_EPOLLET == EPOLLET, "EPOLLET");
_Static_assert(LBCSHIM_EPOLL_CTL_ADD == EPOLL_CTL_ADD, "EPOLL_CTL_ADD");
_Static_assert(LBCSHIM_EPOLL_CTL_DEL == EPOLL_CTL_DEL, "EPOLL_CTL_DEL");
_Static_assert(LBCSHIM_EPOLL_CTL_MOD == EPOLL_CTL_MOD, "EPOLL_CTL_MOD");

int lbcshim_epoll_create(void) {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  return fd >= 0 ? lbcshim_fd_track(fd) : -errno;
}

int lbcshim_eventfd(void) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return fd >= 0 ? lbcshim_fd_track(fd) : -errno;
}

int lbcshim_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = events;
  ev.data.u64 = data;
  return epoll_ctl(epfd, op, fd, &ev) == 0 ? 0 : -errno;
}

int lbcshim_epoll_wait(int epfd, lbcshim_event *out, int max, int timeout_ms) {
  struct epoll_event evs[64];
  if (max > 64) max = 64;
  int n = epoll_wait(epfd, evs, max, timeout_ms);
  if (n < 0) return errno == EINTR ? 0 : -errno;
  for (int i = 0; i < n; i++) {
    out[i].data = evs[i].data.u64;
    out[i].events = evs[i].events;
  }
  return n;
}

void lbcshim_event_reset(uint32_t *word) { __atomic_store_n(word, 0, __ATOMIC_RELEASE); }

void lbcshim_event_signal(uint32_t *word) {
  if (__atomic_exchange_n(word, 1, __ATOMIC_ACQ_REL) == 2)
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

static int lbcshim_event_wait_impl(uint32_t *word, int64_t deadline_ns) {
  for (;;) {
    uint32_t s = __atomic_load_n(word, __ATOMIC_ACQUIRE);
    if (s == 1) return 1;
    if (s == 0 && !__atomic_compare_exchange_n(word, &s, 2, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) continue;
    struct timespec rel, *timeout = NULL;
    if (deadline_ns >= 0) {
      int64_t left = deadline_ns - lbcshim_now_ns();
      if (left <= 0) return __atomic_load_n(word, __ATOMIC_ACQUIRE) == 1;
      rel.tv_sec = left / 1000000000;
      rel.tv_nsec = left % 1000000000;
      timeout = &rel;
    }
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, 2, timeout, NULL, 0);
  }
}

void lbcshim_event_wait(uint32_t *word) { (void)lbcshim_event_wait_impl(word, -1); }

int lbcshim_event_wait_until(uint32_t *word, int64_t deadline_ns) {
  return lbcshim_event_wait_impl(word, deadline_ns < 0 ? 0 : deadline_ns);
}

uint64_t lbcshim_atomic_load_u64(const uint64_t *word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }

void lbcshim_atomic_store_u64(uint64_t *word, uint64_t value) { __atomic_store_n(word, value, __ATOMIC_RELEASE); }

int64_t lbcshim_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

char *lbcshim_strdup(const char *s) { return s ? strdup(s) : NULL; }
