#define _GNU_SOURCE
#include "lbcshim_fork.h"
#include <ares.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <unistd.h>

uint32_t lbcshim_fork_gen = 0;
static int32_t lbcshim_forking_pid = 0;
static pthread_mutex_t lbcshim_registry_mutex = PTHREAD_MUTEX_INITIALIZER;

#ifdef LBC_STATIC_SWIFT_RUNTIME
/* The Swift runtime's thread-local thread-id cache: `static __thread int tid` inside
 * swift::threading_impl::linux::ulock_get_tid() (include/swift/Threading/Impl/Linux/
 * ulock.h). With -static-stdlib the runtime is linked into this library, so the symbol
 * resolves here at link time (it is then made local by the version script);
 * .ci/check-lib.sh checks that it did. 0 makes the runtime ask gettid() again. */
extern __thread int lbcshim_swift_ulock_tid __asm__("_ZZN5swift14threading_impl5linux13ulock_get_tidEvE3tid");
#endif

int lbcshim_fork_child_supported(void) {
#ifdef LBC_STATIC_SWIFT_RUNTIME
  return 1;
#else
  return 0;
#endif
}

int32_t lbcshim_fork_parent_pid(void) { return __atomic_load_n(&lbcshim_forking_pid, __ATOMIC_RELAXED); }

int32_t lbcshim_getpid(void) { return (int32_t)getpid(); }

void lbcshim_registry_lock(void) { pthread_mutex_lock(&lbcshim_registry_mutex); }
void lbcshim_registry_unlock(void) { pthread_mutex_unlock(&lbcshim_registry_mutex); }

/* The descriptors the library owns (sockets, epoll, eventfds): a bitmap indexed by fd,
 * grown under its lock (never in the child handler, which may not allocate). */
static pthread_mutex_t lbcshim_fds_mutex = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *lbcshim_fds = NULL;
static size_t lbcshim_fds_words = 0;

int lbcshim_fd_track(int fd) {
  if (fd < 0) return fd;
  size_t word = (size_t)fd / 64;
  pthread_mutex_lock(&lbcshim_fds_mutex);
  if (word >= lbcshim_fds_words) {
    size_t words = lbcshim_fds_words ? lbcshim_fds_words : 16;
    while (words <= word) words *= 2;
    uint64_t *grown = realloc(lbcshim_fds, words * sizeof *grown);
    if (grown != NULL) {
      for (size_t i = lbcshim_fds_words; i < words; i++) grown[i] = 0;
      lbcshim_fds = grown;
      lbcshim_fds_words = words;
    }
  }
  /* Out of memory: the fd works, it only stays open in a forked child. */
  if (word < lbcshim_fds_words) lbcshim_fds[word] |= (uint64_t)1 << (fd % 64);
  pthread_mutex_unlock(&lbcshim_fds_mutex);
  return fd;
}

int lbcshim_fd_close(int fd) {
  if (fd < 0) return 0;
  size_t word = (size_t)fd / 64;
  pthread_mutex_lock(&lbcshim_fds_mutex);
  if (word < lbcshim_fds_words) lbcshim_fds[word] &= ~((uint64_t)1 << (fd % 64));
  pthread_mutex_unlock(&lbcshim_fds_mutex);
  return close(fd);
}

int lbcshim_fd_tracked(int fd) {
  if (fd < 0) return 0;
  size_t word = (size_t)fd / 64;
  pthread_mutex_lock(&lbcshim_fds_mutex);
  int tracked = word < lbcshim_fds_words && (lbcshim_fds[word] >> (fd % 64)) & 1;
  pthread_mutex_unlock(&lbcshim_fds_mutex);
  return tracked;
}

/* c-ares' sockets through the same table (ares_set_socket_functions). With these
 * functions c-ares configures nothing itself: the socket is made non-blocking and
 * close-on-exec here, and writes never raise SIGPIPE. */
static ares_socket_t lbcshim_ares_socket(int af, int type, int protocol, void *data) {
  (void)data;
  return lbcshim_fd_track(socket(af, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
}

static int lbcshim_ares_close(ares_socket_t s, void *data) {
  (void)data;
  return lbcshim_fd_close(s);
}

static int lbcshim_ares_connect(ares_socket_t s, const struct sockaddr *addr, ares_socklen_t len, void *data) {
  (void)data;
  return connect(s, addr, len);
}

static ares_ssize_t lbcshim_ares_recvfrom(ares_socket_t s, void *buf, size_t len, int flags, struct sockaddr *from,
                                          ares_socklen_t *from_len, void *data) {
  (void)data;
  return recvfrom(s, buf, len, flags, from, from_len);
}

static ares_ssize_t lbcshim_ares_sendv(ares_socket_t s, const struct iovec *vec, int count, void *data) {
  (void)data;
  struct msghdr msg = {0};
  msg.msg_iov = (struct iovec *)vec;
  msg.msg_iovlen = (size_t)count;
  return sendmsg(s, &msg, MSG_NOSIGNAL);
}

static const struct ares_socket_functions lbcshim_ares_functions = {
    lbcshim_ares_socket, lbcshim_ares_close, lbcshim_ares_connect, lbcshim_ares_recvfrom, lbcshim_ares_sendv};

const void *lbcshim_ares_socket_functions(void) { return &lbcshim_ares_functions; }

/* In the child: every descriptor of the parent's channels becomes /dev/null (dup3 swaps
 * it atomically), so the child holds none of the parent's connections, epoll sets or
 * eventfds — a connection the parent closes is closed — while the numbers stay taken:
 * a parent object that closed "its" fd in the child could not hit one of the child's.
 * open, dup3 and close are async-signal-safe. */
static void lbcshim_release_parent_fds(void) {
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (size_t w = 0; w < lbcshim_fds_words; w++) {
    uint64_t bits = lbcshim_fds[w];
    lbcshim_fds[w] = 0;
    for (int b = 0; bits != 0; b++, bits >>= 1) {
      if (!(bits & 1)) continue;
      int fd = (int)(w * 64) + b;
      if (null_fd < 0 || dup3(null_fd, fd, O_CLOEXEC) < 0) close(fd);
    }
  }
  if (null_fd >= 0) close(null_fd);
}

static void lbcshim_atfork_prepare(void) {
  pthread_mutex_lock(&lbcshim_registry_mutex);
  pthread_mutex_lock(&lbcshim_fds_mutex);
  __atomic_store_n(&lbcshim_forking_pid, (int32_t)getpid(), __ATOMIC_RELAXED);
}

static void lbcshim_atfork_parent(void) {
  pthread_mutex_unlock(&lbcshim_fds_mutex);
  pthread_mutex_unlock(&lbcshim_registry_mutex);
}

/* Runs in the child, in the thread that called fork(), before fork() returns there:
 * async-signal-safe work only, and no Swift. */
static void lbcshim_atfork_child(void) {
#ifdef LBC_STATIC_SWIFT_RUNTIME
  lbcshim_swift_ulock_tid = 0;
#endif
  __atomic_add_fetch(&lbcshim_fork_gen, 1, __ATOMIC_RELAXED);
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  lbcshim_registry_mutex = fresh;
  lbcshim_release_parent_fds();
  pthread_mutex_t fresh_fds = PTHREAD_MUTEX_INITIALIZER;
  lbcshim_fds_mutex = fresh_fds;
}

__attribute__((constructor)) static void lbcshim_fork_init(void) {
  pthread_atfork(lbcshim_atfork_prepare, lbcshim_atfork_parent, lbcshim_atfork_child);
}
