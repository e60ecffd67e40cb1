/*
 * test_fork.c — fork() without exec, against real gRPC backends.
 *
 *   test_fork TARGET
 *
 * TARGET lists running test backends (Tests/python/backend.py); Tests/c/run.sh
 * starts them. Two phases, every child under alarm(10) (killed by SIGALRM = hung):
 *
 *   cold: the parent has only used the library without a channel (options, version);
 *         1,000 children each open a channel and make a call (this livelocked in
 *         some children before the fork handler reset the Swift runtime's cached
 *         thread id);
 *   warm: the parent has a channel, a completion queue and a streaming call; 200
 *         children each get LBC_ERR_FORKED (with a message naming the parent's pid)
 *         from every one of those handles, open their own channel and make a call,
 *         then close/free the parent's handles without hanging;
 *   leading: as warm, while a parent thread waits in lbc_cq_poll for its async calls
 *         and so runs the parent channel's I/O itself (the leader) when forked.
 *   stream leading: as leading, while a parent thread waits in a blocking
 *         lbc_call_recv on a stream without a queue (the receiver leads).
 * Every child first checks that it holds none of the parent's sockets, epoll sets or
 * eventfds (the fork handler swapped them for /dev/null: a connection the parent
 * closes is closed, whatever its children do), then makes an lbc_unary_async call on its own channel and queue,
 * polled with a timeout (the child's poller leads its own channel's loop), and a
 * streaming call with a blocking lbc_call_recv (the child's receiver leads).
 *
 * Prints "N passed, M failed" and exits 1 if anything failed.
 */
#define _POSIX_C_SOURCE 200809L

#include <lbchannel.h>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define WHOAMI "/lbtest.Test/Whoami"
#define PARALLEL 4

static int g_passed, g_failed;
static const char *g_target;

#define CHECK(cond, ...)                                          \
  do {                                                            \
    if (cond) {                                                   \
      g_passed++;                                                 \
    } else {                                                      \
      g_failed++;                                                 \
      printf("FAIL (%s:%d): ", __FILE__, __LINE__);               \
      printf(__VA_ARGS__);                                        \
      printf("\n");                                               \
    }                                                             \
  } while (0)

/* In a child: report and exit with `code` unless `cond`. */
#define CHILD_REQUIRE(cond, code, ...)                            \
  do {                                                            \
    if (!(cond)) {                                                \
      fprintf(stderr, "child %d: ", (int)getpid());               \
      fprintf(stderr, __VA_ARGS__);                               \
      fprintf(stderr, "\n");                                      \
      _exit(code);                                                \
    }                                                             \
  } while (0)

/* The parent's handles, inherited by the children (NULL in the cold phase). */
static lbc_channel *g_parent_ch;
static lbc_cq *g_parent_cq;
static lbc_call *g_parent_call;

/* A call on a fresh channel must succeed. */
static int own_channel_call(void) {
  lbc_channel *ch = NULL;
  lbc_response *resp = NULL;
  if (lbc_channel_open(g_target, NULL, &ch) != LBC_OK) return 0;
  int rc = lbc_unary(ch, WHOAMI, NULL, 0, NULL, 5000, &resp);
  int ok = rc == LBC_OK && lbc_response_status(resp) == 0;
  if (!ok) fprintf(stderr, "child %d: call: rc %d status %d %s\n", (int)getpid(), rc,
                   resp ? lbc_response_status(resp) : -1, resp ? lbc_response_message(resp) : lbc_last_errmsg());
  lbc_response_free(resp);
  lbc_channel_close(ch);
  return ok;
}

/* An async call on a fresh channel and queue, polled with a timeout, must succeed. */
static int own_async_call(void) {
  lbc_channel *ch = NULL;
  lbc_cq *cq = NULL;
  lbc_event ev;
  int ok = 0;
  if (lbc_channel_open(g_target, NULL, &ch) != LBC_OK) return 0;
  if (lbc_cq_new(&cq) == LBC_OK) {
    for (int i = 0; i < 3; i++) {
      if (lbc_unary_async(ch, WHOAMI, NULL, 0, NULL, 5000, cq, NULL, NULL) != LBC_OK) break;
      int n = lbc_cq_poll(cq, &ev, sizeof ev, 1, 5000);
      ok = n == 1 && lbc_response_status(ev.response) == 0;
      if (n == 1) lbc_response_free(ev.response);
      if (!ok) {
        fprintf(stderr, "child %d: async call: poll %d\n", (int)getpid(), n);
        break;
      }
    }
    lbc_cq_free(cq);
  }
  lbc_channel_close(ch);
  return ok;
}

/* One EchoStream call on `ch` without a queue: send "x" and half-close, then a
 * blocking recv (the waiting thread leads the loop). 1 when it echoed and ended OK. */
static int stream_round(lbc_channel *ch) {
  lbc_call *call = NULL;
  void *m = NULL;
  size_t len = 0;
  int status = -1;
  if (lbc_call_start(ch, "/lbtest.Test/EchoStream", NULL, 5000, NULL, NULL, &call) != LBC_OK) return 0;
  int ok = lbc_call_send(call, "x", 1, 1, 5000) == LBC_OK && lbc_call_recv(call, 5000, &m, &len) == LBC_OK &&
           len > 2 && memcmp((char *)m + len - 2, ":x", 2) == 0;
  lbc_free(m);
  m = NULL;
  ok = ok && lbc_call_recv(call, 5000, &m, &len) == LBC_END;
  ok = ok && lbc_call_finish(call, 5000, &status, NULL, NULL) == LBC_OK && status == 0;
  lbc_call_free(call);
  return ok;
}

/* A streaming call with a blocking recv on a fresh channel must succeed. */
static int own_stream_call(void) {
  lbc_channel *ch = NULL;
  if (lbc_channel_open(g_target, NULL, &ch) != LBC_OK) return 0;
  int ok = stream_round(ch) && stream_round(ch);
  if (!ok) fprintf(stderr, "child %d: stream call failed: %s\n", (int)getpid(), lbc_last_errmsg());
  lbc_channel_close(ch);
  return ok;
}

/* rc must be LBC_ERR_FORKED with a message naming the parent's pid. */
static void require_forked(int rc, const char *what, const char *message) {
  char want[64];
  snprintf(want, sizeof want, "process %d before fork()", (int)getppid());
  CHILD_REQUIRE(rc == LBC_ERR_FORKED, 3, "%s returned %d (%s), expected LBC_ERR_FORKED", what, rc, lbc_strerror(rc));
  CHILD_REQUIRE(strstr(message, want) != NULL, 3, "%s: message \"%s\" does not say \"%s\"", what, message, want);
}

/* Descriptors of this process that are sockets, epoll sets or eventfds. */
static int io_descriptors(void) {
  DIR *dir = opendir("/proc/self/fd");
  if (dir == NULL) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    char path[300], link[128];
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t len = readlink(path, link, sizeof link - 1);
    if (len <= 0) continue;
    link[len] = 0;
    if (strncmp(link, "socket:", 7) == 0 || strcmp(link, "anon_inode:[eventpoll]") == 0 ||
        strcmp(link, "anon_inode:[eventfd]") == 0)
      n++;
  }
  closedir(dir);
  return n;
}

static void child(void) {
  alarm(10);
  int inherited = io_descriptors();
  CHILD_REQUIRE(inherited == 0, 5, "the child holds %d of the parent's sockets, epoll sets or eventfds", inherited);
  if (g_parent_ch && g_parent_call) {
    lbc_response *resp = NULL;
    lbc_call *call = NULL;
    lbc_event ev;
    char *json = NULL;
    /* The message is read after the call (argument evaluation order is unspecified). */
    int rc = lbc_unary(g_parent_ch, WHOAMI, NULL, 0, NULL, 1000, &resp);
    require_forked(rc, "lbc_unary", lbc_channel_errmsg(g_parent_ch));
    CHILD_REQUIRE(resp == NULL, 3, "lbc_unary filled out on error");
    rc = lbc_channel_stats_json(g_parent_ch, &json);
    require_forked(rc, "lbc_channel_stats_json", lbc_last_errmsg());
    rc = lbc_call_start(g_parent_ch, WHOAMI, NULL, 1000, NULL, NULL, &call);
    require_forked(rc, "lbc_call_start", lbc_last_errmsg());
    rc = lbc_call_send(g_parent_call, "x", 1, 0, 1000);
    require_forked(rc, "lbc_call_send", lbc_last_errmsg());
    rc = lbc_call_cancel(g_parent_call);
    require_forked(rc, "lbc_call_cancel", lbc_last_errmsg());
    rc = lbc_cq_poll(g_parent_cq, &ev, sizeof(lbc_event), 1, 1000);
    require_forked(rc, "lbc_cq_poll", lbc_last_errmsg());
    CHILD_REQUIRE(lbc_cq_fd(g_parent_cq) == -1, 3, "lbc_cq_fd of the parent's queue is not -1");
  }
  CHILD_REQUIRE(own_channel_call(), 4, "a call on the child's own channel failed");
  CHILD_REQUIRE(own_async_call(), 4, "an async call on the child's own channel failed");
  CHILD_REQUIRE(own_stream_call(), 4, "a streaming call on the child's own channel failed");
  if (g_parent_ch) {
    /* Forgotten, not torn down (the parent's I/O thread does not exist here): must return. */
    lbc_call_free(g_parent_call);
    lbc_cq_free(g_parent_cq);
    lbc_channel_close(g_parent_ch);
    lbc_channel_close(g_parent_ch);
  }
  _exit(0);
}

/* Fork `n` children (PARALLEL at a time); count how they ended. */
static void fork_children(const char *phase, int n) {
  int running = 0, started = 0, ok = 0, hung = 0, other = 0;
  while (started < n || running > 0) {
    while (started < n && running < PARALLEL) {
      fflush(stdout);
      pid_t pid = fork();
      if (pid == 0) child();
      if (pid < 0) { perror("fork"); exit(2); }
      running++;
      started++;
    }
    int status = 0;
    if (wait(&status) < 0) break;
    running--;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) ok++;
    else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) hung++;
    else other++;
  }
  printf("%s: %d children, %d ok, %d hung, %d failed\n", phase, n, ok, hung, other);
  CHECK(hung == 0, "%s: %d of %d children hung", phase, hung, n);
  CHECK(ok == n, "%s: %d of %d children did not finish their work", phase, n - ok, n);
}

/* The parent's leading poller: async calls on its own queue, one at a time. */
static lbc_cq *g_lead_cq;
static volatile int g_lead_stop;
static int g_lead_calls, g_lead_failed;

static void *lead_thread(void *arg) {
  (void)arg;
  lbc_event ev;
  while (!__atomic_load_n(&g_lead_stop, __ATOMIC_RELAXED)) {
    if (lbc_unary_async(g_parent_ch, "/lbtest.Test/Sleep", "5", 1, NULL, 5000, g_lead_cq, NULL, NULL) != LBC_OK) {
      g_lead_failed++;
      break;
    }
    int n = lbc_cq_poll(g_lead_cq, &ev, sizeof ev, 1, 5000);
    if (n != 1 || lbc_response_status(ev.response) != 0) g_lead_failed++;
    if (n == 1) lbc_response_free(ev.response);
    g_lead_calls++;
  }
  return NULL;
}

/* The parent's leading receiver: blocking streams, one at a time. */
static volatile int g_stream_stop;
static int g_stream_rounds, g_stream_failed;

static void *stream_lead_thread(void *arg) {
  (void)arg;
  while (!__atomic_load_n(&g_stream_stop, __ATOMIC_RELAXED)) {
    if (!stream_round(g_parent_ch)) g_stream_failed++;
    g_stream_rounds++;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s TARGET\n", argv[0]);
    return 2;
  }
  g_target = argv[argc - 1];
  setvbuf(stdout, NULL, _IOLBF, 0);

  /* cold: the library is loaded and used, no channel yet. */
  lbc_options *opts = NULL;
  CHECK(lbc_options_new(&opts) == LBC_OK, "lbc_options_new");
  CHECK(lbc_options_set(opts, "lb_policy", "round_robin") == LBC_OK, "lbc_options_set");
  lbc_options_free(opts);
  CHECK(lbc_version_num() == LBC_VERSION_NUM, "lbc_version_num");
  fork_children("cold", 1000);

  /* warm: the parent's channel, queue and streaming call, inherited by the children. */
  CHECK(lbc_channel_open(g_target, NULL, &g_parent_ch) == LBC_OK, "lbc_channel_open: %s", lbc_last_errmsg());
  lbc_response *resp = NULL;
  CHECK(lbc_unary(g_parent_ch, WHOAMI, NULL, 0, NULL, 5000, &resp) == LBC_OK && lbc_response_status(resp) == 0,
        "parent call");
  lbc_response_free(resp);
  CHECK(lbc_cq_new(&g_parent_cq) == LBC_OK, "lbc_cq_new");
  CHECK(lbc_call_start(g_parent_ch, "/lbtest.Test/Sleep", NULL, 30000, g_parent_cq, NULL, &g_parent_call) == LBC_OK,
        "lbc_call_start: %s", lbc_last_errmsg());
  CHECK(io_descriptors() >= 3, "the parent has %d sockets/epoll/eventfds (connections, loop, queue)",
        io_descriptors());
  fork_children("warm", 200);


  /* The parent's handles still work after all that. */
  CHECK(lbc_unary(g_parent_ch, WHOAMI, NULL, 0, NULL, 5000, &resp) == LBC_OK && lbc_response_status(resp) == 0,
        "parent call after the forks");
  lbc_response_free(resp);
  CHECK(lbc_call_cancel(g_parent_call) == LBC_OK, "lbc_call_cancel in the parent");
  lbc_call_free(g_parent_call);
  lbc_cq_free(g_parent_cq);
  g_parent_call = NULL;
  g_parent_cq = NULL;

  /* leading: a parent thread waits in lbc_cq_poll (leading the channel's loop: no
   * stream keeps its I/O thread busy now) while children are forked. */
  CHECK(lbc_cq_new(&g_lead_cq) == LBC_OK, "lbc_cq_new");
  pthread_t leader;
  CHECK(pthread_create(&leader, NULL, lead_thread, NULL) == 0, "pthread_create");
  fork_children("leading", 200);
  __atomic_store_n(&g_lead_stop, 1, __ATOMIC_RELAXED);
  pthread_join(leader, NULL);
  CHECK(g_lead_failed == 0 && g_lead_calls > 0, "the parent's poller: %d calls, %d failed", g_lead_calls,
        g_lead_failed);
  lbc_cq_free(g_lead_cq);

  /* stream leading: a parent thread waits in a blocking lbc_call_recv (leading the
   * channel's loop) while children are forked. */
  CHECK(pthread_create(&leader, NULL, stream_lead_thread, NULL) == 0, "pthread_create");
  fork_children("stream leading", 200);
  __atomic_store_n(&g_stream_stop, 1, __ATOMIC_RELAXED);
  pthread_join(leader, NULL);
  CHECK(g_stream_failed == 0 && g_stream_rounds > 0, "the parent's receiver: %d streams, %d failed",
        g_stream_rounds, g_stream_failed);
  lbc_channel_close(g_parent_ch);

  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
