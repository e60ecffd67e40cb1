// grpc_load — the same load driver as lbc_load.c, with the gRPC C++ client
// (Debian's grpc++): one channel with the round_robin service config over the
// same ipv4: target, N threads each looping a blocking call on the generated
// sync stub (bench.Echo/Unary). See load_common.h for the schedule and output.
// --async: the same schedule as `lbc_load --async` — ONE thread keeps N calls
// outstanding with the generated async stub (`AsyncUnary` + `Finish`) on one
// grpc::CompletionQueue, each call with the same per-call deadline, a new call
// issued for each completion taken from `Next`.
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
static std::atomic<int> WARM_STOP{0}, STOP{0};

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

// ------------------------------------------------------------------ --async

namespace {
struct AsyncSlot {
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientAsyncResponseReader<bench::Msg>> reader;
  bench::Msg resp;
  grpc::Status status;
  uint64_t issued_at = 0;
};
}  // namespace

static void async_issue(bench::Echo::Stub* stub, grpc::CompletionQueue* cq, const bench::Msg& req,
                        std::vector<AsyncSlot>& slots, size_t i) {
  AsyncSlot& s = slots[i];
  s.ctx = std::make_unique<grpc::ClientContext>();
  if (A.deadline_ms >= 0)
    s.ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(A.deadline_ms));
  s.resp.Clear();
  s.issued_at = bench_now_ns();
  s.reader = stub->AsyncUnary(s.ctx.get(), req, cq);
  s.reader->Finish(&s.resp, &s.status, (void*)(i + 1));
}

// One phase: keep A.threads calls outstanding until `total` calls were issued
// (total > 0) or until `end_ns`, then drain. Records into `s` when not NULL.
static void async_phase(bench::Echo::Stub* stub, grpc::CompletionQueue* cq, const bench::Msg& req,
                        std::vector<AsyncSlot>& slots, long total, uint64_t end_ns,
                        bench_samples* s) {
  long issued = 0;
  int outstanding = 0;
  for (size_t i = 0; i < (size_t)A.threads; i++) {
    if (total > 0 ? issued >= total : bench_now_ns() >= end_ns) break;
    async_issue(stub, cq, req, slots, i);
    issued++;
    outstanding++;
  }
  static int printed;
  while (outstanding > 0) {
    void* tag = nullptr;
    bool ok = false;
    if (!cq->Next(&tag, &ok)) {
      fprintf(stderr, "grpc_load: completion queue shut down\n");
      exit(1);
    }
    uint64_t now = bench_now_ns();
    size_t i = (size_t)tag - 1;
    AsyncSlot& slot = slots[i];
    outstanding--;
    bool good = ok && slot.status.ok() && slot.resp.payload().size() == req.payload().size();
    if (good) {
      if (s) bench_push(s, now - slot.issued_at);
    } else {
      if (s) s->errors++;
      if (printed++ < 5)
        fprintf(stderr, "grpc_load: async call failed: %d %s\n", (int)slot.status.error_code(),
                slot.status.error_message().c_str());
    }
    int more = total > 0 ? 1 : now < end_ns;
    if (more && (total == 0 || issued < total)) {
      async_issue(stub, cq, req, slots, i);
      issued++;
      outstanding++;
    }
  }
}

static int run_async(std::shared_ptr<grpc::Channel> ch, const bench::Msg& req) {
  auto stub = bench::Echo::NewStub(ch);
  grpc::CompletionQueue cq;
  std::vector<AsyncSlot> slots((size_t)A.threads);
  // bench_report reads one sample set per "thread"; all calls go into the first.
  std::vector<bench_samples> samples((size_t)A.threads, bench_samples{nullptr, 0, 0, 0});
  if (A.warmup_calls > 0)
    async_phase(stub.get(), &cq, req, slots, A.warmup_calls * A.threads, 0, nullptr);
  else
    async_phase(stub.get(), &cq, req, slots, 0,
                bench_now_ns() + (uint64_t)A.warmup_ms * 1000000ull, nullptr);
  if (A.handshake) bench_handshake();
  double cpu0 = bench_cpu_seconds();
  uint64_t t0 = bench_now_ns();
  async_phase(stub.get(), &cq, req, slots, A.calls, t0 + (uint64_t)(A.seconds * 1e9), &samples[0]);
  uint64_t t1 = bench_now_ns();
  double cpu1 = bench_cpu_seconds();
  char extra[96];
  snprintf(extra, sizeof extra, "\"mode\": \"async\", \"outstanding\": %d", A.threads);
  bench_report("grpc++-async", grpc::Version().c_str(), &A, samples.data(), (t1 - t0) / 1e9, cpu1 - cpu0,
               extra);
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  return 0;
}

int main(int argc, char** argv) {
  bench_parse_args(argc, argv, &A);
  bench_require_small_payload(&A, "grpc_load");
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON("{\"loadBalancingConfig\":[{\"round_robin\":{}}]}");
  std::shared_ptr<grpc::Channel> ch =
      grpc::CreateCustomChannel(A.target, bench_channel_credentials(&args), args);
  if (!ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    fprintf(stderr, "grpc_load: channel to %s not connected after 10 s\n", A.target);
    return 1;
  }
  bench::Msg req;
  req.set_payload(std::string((size_t)A.payload, 'a'));
  {
    uint8_t buf[160];
    size_t n = bench_make_msg(buf, A.payload);
    req.set_payload(std::string((const char*)buf + 2, n - 2));
  }

  if (A.async_mode) return run_async(ch, req);

  std::vector<bench_samples> samples((size_t)A.threads);
  for (auto& s : samples) s = bench_samples{nullptr, 0, 0, 0};
  std::atomic<int> printed{0};
  auto one_call = [&](bench::Echo::Stub* stub) -> bool {
    grpc::ClientContext ctx;
    if (A.deadline_ms >= 0)
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(A.deadline_ms));
    bench::Msg resp;
    grpc::Status st = stub->Unary(&ctx, req, &resp);
    bool ok = st.ok() && resp.payload().size() == req.payload().size();
    if (!ok && printed.fetch_add(1) < 5)
      fprintf(stderr, "grpc_load: call failed: %d %s\n", (int)st.error_code(),
              st.error_message().c_str());
    return ok;
  };

  pthread_barrier_t b1, b2;
  pthread_barrier_init(&b1, nullptr, (unsigned)A.threads + 1);
  pthread_barrier_init(&b2, nullptr, (unsigned)A.threads + 1);
  std::vector<std::thread> th;
  for (int t = 0; t < A.threads; t++) {
    th.emplace_back([&, t] {
      auto stub = bench::Echo::NewStub(ch);
      bench_samples* s = &samples[(size_t)t];
      if (A.warmup_calls > 0) {
        for (long i = 0; i < A.warmup_calls; i++) one_call(stub.get());
      } else {
        while (!WARM_STOP.load(std::memory_order_relaxed)) one_call(stub.get());
      }
      pthread_barrier_wait(&b1);
      pthread_barrier_wait(&b2);
      if (A.calls > 0) {
        long mine = A.calls / A.threads + (t < A.calls % A.threads);
        for (long i = 0; i < mine; i++) {
          uint64_t t0 = bench_now_ns();
          if (one_call(stub.get())) bench_push(s, bench_now_ns() - t0); else s->errors++;
        }
      } else {
        while (!STOP.load(std::memory_order_relaxed)) {
          uint64_t t0 = bench_now_ns();
          if (one_call(stub.get())) bench_push(s, bench_now_ns() - t0); else s->errors++;
        }
      }
    });
  }
  if (A.warmup_calls == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(A.warmup_ms));
    WARM_STOP.store(1);
  }
  pthread_barrier_wait(&b1);
  if (A.handshake) bench_handshake();
  double cpu0 = bench_cpu_seconds();
  uint64_t t0 = bench_now_ns();
  pthread_barrier_wait(&b2);
  if (A.calls == 0) {
    std::this_thread::sleep_until(std::chrono::steady_clock::now() +
                                  std::chrono::nanoseconds((int64_t)(A.seconds * 1e9)));
    STOP.store(1);
  }
  for (auto& t : th) t.join();
  uint64_t t1 = bench_now_ns();
  double cpu1 = bench_cpu_seconds();
  bench_report("grpc++", grpc::Version().c_str(), &A, samples.data(), (t1 - t0) / 1e9, cpu1 - cpu0,
               nullptr);
  return 0;
}
