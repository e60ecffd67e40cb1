// grpc_stream — the same streaming driver as lbc_stream.c, with the gRPC C++
// client (Debian's grpc++), sync API like grpc_load.cc: one channel with the
// round_robin service config over the same target, one bidi stream
// (bench.Echo/Stream) on the generated sync stub.
//
//   --window 1: ping-pong from one thread (Write, then Read).
//   --window W > 1: a sender thread (Write while fewer than W messages are in
//   flight, a semaphore counts the free slots) and a receiver thread (Read);
//   the sync API allows one writer and one reader concurrently.
//
// Same schedule, phases (drained between warm-up and window) and JSON output
// as lbc_stream.c.
#include <semaphore.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bench.grpc.pb.h"
#include "load_common.h"
#include "tls_common.h"

static bench_args A;
static std::unique_ptr<grpc::ClientReaderWriter<bench::Msg, bench::Msg>> RW;
static bench::Msg REQ;
static std::vector<uint64_t> RING;  // send times, ring of A.window
static long SENT = 0, RECEIVED = 0;

static void die(const char* what) {
  fprintf(stderr, "grpc_stream: %s (%ld sent, %ld received)\n", what, SENT, RECEIVED);
  exit(1);
}

static void pingpong(long count, uint64_t end_ns, bench_samples* s) {
  bench::Msg resp;
  for (long i = 0; count > 0 ? i < count : bench_now_ns() < end_ns; i++) {
    uint64_t t0 = bench_now_ns();
    if (!RW->Write(REQ)) die("Write failed");
    SENT++;
    if (!RW->Read(&resp)) die("Read failed");
    uint64_t t1 = bench_now_ns();
    RECEIVED++;
    if (resp.payload().size() != REQ.payload().size()) {
      if (s) s->errors++;
    } else if (s) {
      bench_push(s, t1 - t0);
    }
  }
}

// Windowed: `slots` counts free window slots (posted by the receiver), `sent`
// counts written messages plus one final post when the sender stops.
static void windowed(long count, uint64_t end_ns, bench_samples* s) {
  sem_t slots, sent;
  sem_init(&slots, 0, (unsigned)A.window);
  sem_init(&sent, 0, 0);
  std::atomic<bool> sender_done{false};
  std::atomic<long> sent_final{0};
  long limit = count > 0 ? SENT + count : 0;
  std::thread sender([&] {
    long n = SENT;
    for (;;) {
      while (sem_wait(&slots) != 0) {
      }
      if (limit > 0 ? n >= limit : bench_now_ns() >= end_ns) break;
      RING[(size_t)(n % A.window)] = bench_now_ns();
      if (!RW->Write(REQ)) die("Write failed");
      n++;
      sem_post(&sent);
    }
    sent_final.store(n);
    sender_done.store(true);
    sem_post(&sent);
  });
  bench::Msg resp;
  long r = RECEIVED;
  for (;;) {
    while (sem_wait(&sent) != 0) {
    }
    if (sender_done.load() && r == sent_final.load()) break;
    if (!RW->Read(&resp)) die("Read failed");
    uint64_t now = bench_now_ns();
    if (resp.payload().size() != REQ.payload().size()) {
      if (s) s->errors++;
    } else if (s) {
      bench_push(s, now - RING[(size_t)(r % A.window)]);
    }
    r++;
    sem_post(&slots);
  }
  sender.join();
  SENT = sent_final.load();
  RECEIVED = r;
  sem_destroy(&slots);
  sem_destroy(&sent);
}

static void phase(long count, uint64_t end_ns, bench_samples* s) {
  if (A.window == 1)
    pingpong(count, end_ns, s);
  else
    windowed(count, end_ns, s);
}

// TLS when BENCH_TLS_CA is set (tls_common.h): grpc::SslCredentials trusting that CA,
// verifying BENCH_TLS_NAME.
static std::shared_ptr<grpc::ChannelCredentials> bench_channel_credentials(grpc::ChannelArguments* args) {
  const char* ca = getenv("BENCH_TLS_CA");
  if (!ca) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  char* roots = bench_read_file(ca);
  ssl.pem_root_certs = roots;
  free(roots);
  if (const char* name = getenv("BENCH_TLS_NAME")) args->SetSslTargetNameOverride(name);
  return grpc::SslCredentials(ssl);
}

int main(int argc, char** argv) {
  bench_parse_args(argc, argv, &A);
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON("{\"loadBalancingConfig\":[{\"round_robin\":{}}]}");
  args.SetMaxReceiveMessageSize(-1);
  std::shared_ptr<grpc::Channel> ch =
      grpc::CreateCustomChannel(A.target, bench_channel_credentials(&args), args);
  if (!ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    fprintf(stderr, "grpc_stream: channel to %s not connected after 10 s\n", A.target);
    return 1;
  }
  {
    size_t n = 0;
    uint8_t* buf = bench_alloc_msg(A.payload, &n);
    REQ.set_payload(std::string((const char*)buf + (n - (size_t)A.payload), (size_t)A.payload));
    free(buf);
  }
  RING.assign((size_t)A.window, 0);
  auto stub = bench::Echo::NewStub(ch);
  grpc::ClientContext ctx;  // no deadline: the stream lasts the whole run
  RW = stub->Stream(&ctx);

  if (A.warmup_calls > 0)
    phase(A.warmup_calls, 0, nullptr);
  else
    phase(0, bench_now_ns() + (uint64_t)A.warmup_ms * 1000000ull, nullptr);
  if (A.handshake) bench_handshake();

  bench_samples s{nullptr, 0, 0, 0};
  double cpu0 = bench_cpu_seconds();
  uint64_t t0 = bench_now_ns();
  phase(A.calls, t0 + (uint64_t)(A.seconds * 1e9), &s);
  uint64_t t1 = bench_now_ns();
  double cpu1 = bench_cpu_seconds();

  RW->WritesDone();
  bench::Msg extra_msg;
  while (RW->Read(&extra_msg)) s.errors++;  // the server echoed more than was sent
  grpc::Status st = RW->Finish();
  if (!st.ok()) {
    fprintf(stderr, "grpc_stream: stream ended with %d %s\n", (int)st.error_code(),
            st.error_message().c_str());
    s.errors++;
  }
  double wall = (t1 - t0) / 1e9;
  char extra[256];
  snprintf(extra, sizeof extra,
           "\"mode\": \"stream\", \"payload\": %d, \"window\": %d, \"bytes_per_msg\": %zu, "
           "\"mbps\": %.3f, \"peer\": \"%s\"",
           A.payload, A.window, REQ.ByteSizeLong(),
           wall > 0 ? s.n * (double)A.payload / wall / 1e6 : 0, ctx.peer().c_str());
  A.threads = 1;
  bench_report("grpc++", grpc::Version().c_str(), &A, &s, wall, cpu1 - cpu0, extra);
  return 0;
}
