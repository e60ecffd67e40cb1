// Echo backend for the lbchannel benchmarks: gRPC C++ callback API (Debian's grpc++ 1.51).
//
//   echo_server --port N [--addr 127.0.0.1]     N = 0 picks a free port
//
// Prints "PORT <n>" on stdout once it listens. bench.Echo/Unary echoes and is
// counted; bench.Echo/Stream echoes each message (counted separately);
// bench.Echo/Count returns the Unary count as decimal ASCII in Msg.payload (the
// count of stream messages echoed instead when the request's payload is "stream").
// SIGTERM/SIGINT: prints "COUNT unary=<n> stream_msgs=<m>" and exits.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "bench.grpc.pb.h"
#include "tls_common.h"

namespace {

std::atomic<uint64_t> g_unary{0};
std::atomic<uint64_t> g_stream_msgs{0};

class StreamEcho : public grpc::ServerBidiReactor<bench::Msg, bench::Msg> {
 public:
  StreamEcho() { StartRead(&msg_); }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    g_stream_msgs.fetch_add(1, std::memory_order_relaxed);
    StartWrite(&msg_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNKNOWN, "write failed"));
      return;
    }
    StartRead(&msg_);
  }
  void OnDone() override { delete this; }

 private:
  bench::Msg msg_;
};

class EchoService final : public bench::Echo::CallbackService {
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, const bench::Msg* req,
                                  bench::Msg* resp) override {
    g_unary.fetch_add(1, std::memory_order_relaxed);
    resp->set_payload(req->payload());
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
  grpc::ServerBidiReactor<bench::Msg, bench::Msg>* Stream(grpc::CallbackServerContext*) override {
    return new StreamEcho();
  }
  grpc::ServerUnaryReactor* Count(grpc::CallbackServerContext* ctx, const bench::Msg* req,
                                  bench::Msg* resp) override {
    resp->set_payload(std::to_string(req->payload() == "stream" ? g_stream_msgs.load()
                                                                : g_unary.load()));
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::string addr = "127.0.0.1";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--addr") && i + 1 < argc) addr = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--port N] [--addr A]\n", argv[0]);
      return 2;
    }
  }
  // Block the stop signals before gRPC starts its threads, then sigwait for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  EchoService service;
  grpc::ServerBuilder builder;
  int selected = 0;
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (const char* cert = getenv("BENCH_TLS_CERT")) {  // TLS (tls_common.h)
    char* chain = bench_read_file(cert);
    char* key = bench_read_file(getenv("BENCH_TLS_KEY"));
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({key, chain});
    free(chain);
    free(key);
    creds = grpc::SslServerCredentials(ssl);
  }
  builder.AddListeningPort(addr + ":" + std::to_string(port), creds, &selected);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || selected == 0) {
    fprintf(stderr, "echo_server: could not listen on %s:%d\n", addr.c_str(), port);
    return 1;
  }
  printf("PORT %d\n", selected);
  fflush(stdout);

  int sig = 0;
  sigwait(&set, &sig);
  printf("COUNT unary=%llu stream_msgs=%llu\n", (unsigned long long)g_unary.load(),
         (unsigned long long)g_stream_msgs.load());
  fflush(stdout);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  return 0;
}
