/* fork() support for lbchannel (not part of the public API).
 *
 * A pthread_atfork handler, registered when the library is loaded, does two things
 * in the child of a fork() without exec:
 *   - it resets the Swift runtime's per-thread cache of the thread id in the forking
 *     thread (the only thread of the child). The runtime's locks are PI futexes whose
 *     word holds the owner's thread id, read from that cache; left as is, the child's
 *     first thread locks them with the PARENT's id, and the kernel then refuses both
 *     the waiters' FUTEX_LOCK_PI and the owner's FUTEX_UNLOCK_PI: two threads spin at
 *     100 % CPU for ever (swift::threading_impl::once_slow). Only possible where the
 *     runtime is linked into the library (release build, LBC_STATIC_SWIFT_RUNTIME);
 *   - it counts the generation: every handle records the generation it was made in,
 *     and the C API refuses handles from an earlier one (the parent's I/O threads do
 *     not exist in the child).
 * It also holds the channel registry's lock across fork() so that the child never
 * inherits it locked, and it releases in the child the descriptors the library owns
 * (each replaced by /dev/null: see lbcshim_fd_track). */
#ifndef LBCSHIM_FORK_H
#define LBCSHIM_FORK_H
#include <stdint.h>

/** Incremented in the child after every fork(); 0 in a process that never forked. */
extern uint32_t lbcshim_fork_gen;

/** The current fork generation (a plain load: cheap enough for every API call). */
static inline uint32_t lbcshim_fork_generation(void) {
  return __atomic_load_n(&lbcshim_fork_gen, __ATOMIC_RELAXED);
}

/** The pid of the process that last called fork() (in a child: its parent's); 0 if none. */
int32_t lbcshim_fork_parent_pid(void);

/** getpid(). */
int32_t lbcshim_getpid(void);

/** 1 if the child handler can reset the Swift runtime's thread-id cache (the runtime is
 *  linked into this library), so a forked child may use the library; 0 otherwise. */
int lbcshim_fork_child_supported(void);

/** The lock of lbchannel's table of live channel handles (held across fork()). */
void lbcshim_registry_lock(void);
void lbcshim_registry_unlock(void);

/** Record `fd` (a socket, epoll or eventfd the library owns) so that a forked child
 *  releases it; returns `fd`. Every tracked fd must be closed with lbcshim_fd_close. */
int lbcshim_fd_track(int fd);

/** Forget and close a tracked `fd` (close(2)'s result). */
int lbcshim_fd_close(int fd);

/** A `const struct ares_socket_functions *` whose sockets are tracked (for
 *  ares_set_socket_functions; opaque here so that this header needs no ares.h). */
const void *lbcshim_ares_socket_functions(void);

/** 1 if `fd` is tracked (tests). */
int lbcshim_fd_tracked(int fd);
#endif
