// balanced.cpp — lbchannel from C++ on ONE thread, with no callback at all:
// discovery answered from the completion queue (LBC_EVENT_LOOKUP), log lines taken
// from it (LBC_EVENT_LOG), balanced asynchronous unary calls (LBC_EVENT_UNARY), then a
// server-streaming call. Runs against grpc.testing.TestService backends
// (Tests/interop/server.py; `make test` runs it through Tests/c/run-interop.sh).
//
//   c++ -std=c++17 -o balanced balanced.cpp $(pkg-config --cflags --libs lbchannel)
//   ./balanced ipv4:127.0.0.2:50051,127.0.0.3:50051
#include <lbchannel.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

// Owners for the library's objects: each released with its own function.
struct ChannelClose { void operator()(lbc_channel *ch) const { lbc_channel_close(ch); } };
struct CqFree { void operator()(lbc_cq *cq) const { lbc_cq_free(cq); } };
struct OptionsFree { void operator()(lbc_options *o) const { lbc_options_free(o); } };
struct ResponseFree { void operator()(lbc_response *r) const { lbc_response_free(r); } };
struct CallFree { void operator()(lbc_call *c) const { lbc_call_free(c); } };
using Channel = std::unique_ptr<lbc_channel, ChannelClose>;
using Queue = std::unique_ptr<lbc_cq, CqFree>;
using Options = std::unique_ptr<lbc_options, OptionsFree>;
using Response = std::unique_ptr<lbc_response, ResponseFree>;
using Call = std::unique_ptr<lbc_call, CallFree>;

int fail(const char *what, int rc) {
  std::fprintf(stderr, "balanced: %s: %s (%s)\n", what, lbc_strerror(rc), lbc_last_errmsg());
  return 1;
}

// "ipv4:a:p,b:p" -> {"a:p", "b:p"}: what our "registry" answers for the service.
std::vector<std::string> registry_answer(const std::string &target) {
  std::vector<std::string> out;
  std::string rest = target.substr(target.find(':') + 1);
  for (size_t start = 0; start <= rest.size();) {
    size_t comma = rest.find(',', start);
    if (comma == std::string::npos) comma = rest.size();
    out.push_back(rest.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// How many of the backends are READY (lbc_channel_endpoint_connectivity: no stats JSON
// to parse; examples/go/balanced.go uses a connectivity watch instead).
int ready_endpoints(lbc_channel *ch, const std::vector<std::string> &backends) {
  int n = 0;
  for (auto &b : backends) n += lbc_channel_endpoint_connectivity(ch, b.c_str()) == LBC_CONN_READY;
  return n;
}

const char *const kUnary = "/grpc.testing.TestService/UnaryCall";
const char *const kStream = "/grpc.testing.TestService/StreamingOutputCall";
int lookup_tag, log_tag;

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s ipv4:ADDR:PORT[,ADDR:PORT...]\n", argv[0]);
    return 2;
  }
  std::vector<std::string> backends = registry_answer(argv[1]);

  lbc_cq *raw_cq = nullptr;
  if (int rc = lbc_cq_new(&raw_cq)) return fail("lbc_cq_new", rc);
  Queue cq(raw_cq);
  lbc_options *raw_opts = nullptr;
  if (int rc = lbc_options_new(&raw_opts)) return fail("lbc_options_new", rc);
  Options opts(raw_opts);
  lbc_options_set_lb_policy(opts.get(), LBC_LB_ROUND_ROBIN);
  lbc_options_set_lookup_queue(opts.get(), cq.get(), &lookup_tag);
  lbc_options_set_log_queue(opts.get(), cq.get(), &log_tag);
  lbc_channel *raw_ch = nullptr;
  if (int rc = lbc_channel_open("registry:///interop-backends", opts.get(), &raw_ch))
    return fail("lbc_channel_open", rc);
  Channel ch(raw_ch);
  opts.reset();

  const int kCalls = 30;
  const uint8_t request[] = {0x10, 10};  // SimpleRequest{response_size: 10}
  std::map<std::string, int> served;
  int started = 0, done = 0, ok = 0, lookups = 0, log_lines = 0;
  for (int spins = 0; done < kCalls && spins < 1000; spins++) {
    lbc_event ev[16];
    int n = lbc_cq_poll(cq.get(), ev, sizeof(lbc_event), 16, 100);
    if (n < 0) return fail("lbc_cq_poll", n);
    for (int i = 0; i < n; i++) {
      if (ev[i].kind == LBC_EVENT_LOOKUP) {  // discovery: answer from this thread
        std::vector<const char *> texts;
        for (auto &b : backends) texts.push_back(b.c_str());
        if (int rc = lbc_channel_answer_lookup(ch.get(), texts.data(), texts.size(), nullptr))
          return fail("lbc_channel_answer_lookup", rc);
        lookups++;
      } else if (ev[i].kind == LBC_EVENT_LOG) {
        int level;
        char *line;
        while (lbc_channel_next_log(ch.get(), &level, &line) == LBC_OK) {
          std::printf("  log %d: %s\n", level, line);
          lbc_free(line);
          log_lines++;
        }
      } else if (ev[i].kind == LBC_EVENT_UNARY) {
        Response resp(ev[i].response);
        done++;
        if (lbc_response_status(resp.get()) == LBC_STATUS_OK) {
          ok++;
          served[lbc_response_peer(resp.get())]++;
        } else {
          std::fprintf(stderr, "balanced: call: %s %s\n", lbc_status_name(lbc_response_status(resp.get())),
                       lbc_response_message(resp.get()));
        }
      }
    }
    // Start the calls once every endpoint discovery found is READY (before that,
    // round_robin has fewer endpoints to spread them over; at most ~5 s).
    if (lookups == 0 || (started == 0 && ready_endpoints(ch.get(), backends) < (int)backends.size() && spins < 50))
      continue;
    for (; started < kCalls; started++) {
      if (int rc = lbc_unary_async(ch.get(), kUnary, request, sizeof request, nullptr, 5000, cq.get(),
                                   nullptr, nullptr))
        return fail("lbc_unary_async", rc);
    }
  }
  std::printf("unary: %d of %d OK after %d lookup(s), %d log line(s); by backend:", ok, kCalls, lookups,
              log_lines);
  for (auto &[peer, count] : served) std::printf(" %s=%d", peer.c_str(), count);
  std::printf("\n");
  if (ok != kCalls || served.size() != backends.size()) {
    std::fprintf(stderr, "balanced: expected %d OK calls spread over %zu backends\n", kCalls, backends.size());
    return 1;
  }

  // Server streaming: three responses of 5, 6 and 7 bytes.
  const uint8_t stream_request[] = {0x12, 2, 0x08, 5, 0x12, 2, 0x08, 6, 0x12, 2, 0x08, 7};
  lbc_call *raw_call = nullptr;
  if (int rc = lbc_call_start(ch.get(), kStream, nullptr, 5000, nullptr, nullptr, &raw_call))
    return fail("lbc_call_start", rc);
  Call call(raw_call);
  if (int rc = lbc_call_send(call.get(), stream_request, sizeof stream_request, LBC_SEND_END, 5000))
    return fail("lbc_call_send", rc);
  int messages = 0, rc;
  void *message;
  size_t len;
  while ((rc = lbc_call_recv(call.get(), 5000, &message, &len)) == LBC_OK) {
    messages++;
    lbc_free(message);
  }
  if (rc != LBC_END) return fail("lbc_call_recv", rc);
  int status = -1;
  const char *status_message = nullptr;
  if (int frc = lbc_call_finish(call.get(), 5000, &status, &status_message, nullptr))
    return fail("lbc_call_finish", frc);
  std::printf("server streaming: %d messages, %s from %s\n", messages, lbc_status_name(status),
              lbc_call_peer(call.get()));
  if (messages != 3 || status != LBC_STATUS_OK) return 1;
  std::printf("balanced: OK\n");
  return 0;
}
