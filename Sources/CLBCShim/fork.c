#define _GNU_SOURCE
#include "lbcshim_fork.h"
#include <pthread.h>
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

static void lbcshim_atfork_prepare(void) {
  pthread_mutex_lock(&lbcshim_registry_mutex);
  __atomic_store_n(&lbcshim_forking_pid, (int32_t)getpid(), __ATOMIC_RELAXED);
}

static void lbcshim_atfork_parent(void) { pthread_mutex_unlock(&lbcshim_registry_mutex); }

/* Runs in the child, in the thread that called fork(), before fork() returns there:
 * async-signal-safe work only, and no Swift. */
static void lbcshim_atfork_child(void) {
#ifdef LBC_STATIC_SWIFT_RUNTIME
  lbcshim_swift_ulock_tid = 0;
#endif
  __atomic_add_fetch(&lbcshim_fork_gen, 1, __ATOMIC_RELAXED);
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  lbcshim_registry_mutex = fresh;
}

__attribute__((constructor)) static void lbcshim_fork_init(void) {
  pthread_atfork(lbcshim_atfork_prepare, lbcshim_atfork_parent, lbcshim_atfork_child);
}
