/* Small C helpers for lbchannel's Swift code: things Swift cannot express
 * directly (thread-local storage, packed epoll structs). Not part of the public API. */
#ifndef LBCSHIM_H
#define LBCSHIM_H
#include <stddef.h>
#include <stdint.h>

/** Store `msg` (copied, truncated to 1023 bytes) as the calling thread's last error message. */
void lbcshim_set_errmsg(const char *msg);
/** The calling thread's last error message ("" if none). Valid until the next set on this thread. */
const char *lbcshim_errmsg(void);
/** Like lbcshim_set_errmsg, and remember which handle the failure was on. */
void lbcshim_set_errmsg_for(const void *handle, const char *msg);
/** The calling thread's last error message if it was on `handle`, else "". */
const char *lbcshim_errmsg_for(const void *handle);

/** One ready file descriptor from lbcshim_epoll_wait. */
typedef struct lbcshim_event {
  uint64_t data;
  uint32_t events;
} lbcshim_event;

/* epoll constants (checked against <sys/epoll.h> in shim.c). */
#define LBCSHIM_EPOLLIN 0x001u
#define LBCSHIM_EPOLLOUT 0x004u
#define LBCSHIM_EPOLLERR 0x008u
#define LBCSHIM_EPOLLHUP 0x010u
#define LBCSHIM_EPOLLET 0x80000000u
#define LBCSHIM_EPOLL_CTL_ADD 1
#define LBCSHIM_EPOLL_CTL_DEL 2
#define LBCSHIM_EPOLL_CTL_MOD 3

/** epoll_create1(EPOLL_CLOEXEC); returns the fd or -errno. The fd is tracked
 *  (lbcshim_fd_track): close it with lbcshim_fd_close. */
int lbcshim_epoll_create(void);
/** eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); returns the fd or -errno, tracked as above. */
int lbcshim_eventfd(void);

/** epoll_ctl with a plain struct; returns 0 or -errno. */
int lbcshim_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/** epoll_wait into plain structs; returns count or -errno (EINTR mapped to 0). */
int lbcshim_epoll_wait(int epfd, lbcshim_event *out, int max, int timeout_ms);

/* A one-shot event on a futex word: 0 = not signalled, 1 = signalled,
 * 2 = not signalled and a thread may be sleeping on it. */
/** Make the event waitable again. */
void lbcshim_event_reset(uint32_t *word);
/** Signal; wakes a sleeping waiter (one futex syscall only when one sleeps). */
void lbcshim_event_signal(uint32_t *word);
/** Wait until signalled. */
void lbcshim_event_wait(uint32_t *word);
/** Wait until signalled or CLOCK_MONOTONIC reaches deadline_ns; 1 if signalled, 0 on timeout. */
int lbcshim_event_wait_until(uint32_t *word, int64_t deadline_ns);

/** Atomic 64-bit load (acquire) and store (release). */
uint64_t lbcshim_atomic_load_u64(const uint64_t *word);
void lbcshim_atomic_store_u64(uint64_t *word, uint64_t value);

/** Monotonic clock in nanoseconds. */
int64_t lbcshim_now_ns(void);

/** Copy of `s` allocated with malloc (for strings handed to C callers). NULL on OOM. */
char *lbcshim_strdup(const char *s);
#endif
