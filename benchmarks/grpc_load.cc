// grpc_load — the same load driver as lbc_load.c, with the gRPC C++ client
// (Debian's grpc++): one channel with the round_robin service config over the
// same ipv4: target, N threads each looping a blocking call on the generated
// sync stub (bench.Echo/Unary). See load_common.h for the schedule and output.
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
