// loop: detects forwarding loops at start-up by sending a random HINFO probe
// to this server and watching whether it comes back through the chain.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath::loop {
namespace {

constexpr int kMaxSeen = 2;  // more than this many probes back: a loop
constexpr auto kProbeDeadline = std::chrono::seconds(30);

class Loop : public Plugin {
 public:
  Loop(wire::Name probe, std::string address, uint16_t port, Host* host)
      : probe_(std::move(probe)), address_(std::move(address)), port_(port), host_(host) {}

  ~Loop() override {
    stop_ = true;
    if (prober_.joinable()) prober_.join();
  }

  std::string_view Name() const override { return "loop"; }

  Task<Result> ServeDns(Request& req, ResponseWriter& w) override {
    if (disabled_ || req.QType() != 13 /* HINFO */ || !(req.QName() == probe_)) {
      co_return co_await Next(req, w);
    }
    if (seen_.fetch_add(1) + 1 > kMaxSeen) {
      host_->Log("[FATAL] plugin/loop: Loop (" + req.RemoteIp() + ":" +
                 std::to_string(req.RemotePort()) + " -> " + req.LocalIp() + ":" +
                 std::to_string(req.LocalPort()) + ") detected for zone \"" + req.zone +
                 "\", see https://coredns.io/plugins/loop#troubleshooting. Query: \"HINFO " +
                 probe_.ToText() + "\"");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the line out
      std::_Exit(1);
    }
    co_return co_await Next(req, w);
  }

  // Sends the probe until one exchange completes (then disables itself two
  // seconds later, as CoreDNS does) or the deadline passes.
  void StartProber() {
    prober_ = std::thread([this] {
      const auto deadline = std::chrono::steady_clock::now() + kProbeDeadline;
      while (!stop_ && std::chrono::steady_clock::now() < deadline) {
        if (Exchange()) {
          for (int i = 0; i < 20 && !stop_; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
          break;
        }
        seen_ = 0;
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
      disabled_ = true;
    });
  }

 private:
  bool Exchange() {
    wire::Message q;
    std::mt19937 rng(std::random_device{}());
    q.header.id = static_cast<uint16_t>(rng());
    q.header.SetFlag(wire::flag::kRd, true);
    q.question.push_back({probe_, 13, wire::qclass::kIn});
    std::vector<uint8_t> bytes;
    wire::WriteMessage(q, wire::kMaxMessageSize, &bytes);
    const bool v6 = address_.find(':') != std::string::npos;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_storage ss{};
    socklen_t sl;
    if (v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(port_);
      inet_pton(AF_INET6, address_.c_str(), &a->sin6_addr);
      sl = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(port_);
      inet_pton(AF_INET, address_.c_str(), &a->sin_addr);
      sl = sizeof(*a);
    }
    uint8_t reply[512];
    bool ok = sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&ss), sl) > 0 &&
              recv(fd, reply, sizeof(reply), 0) > 0;
    close(fd);
    return ok;
  }

  wire::Name probe_;
  std::string address_;
  uint16_t port_;
  Host* host_;
  std::atomic<int> seen_{0};
  std::atomic<bool> disabled_{false};
  std::atomic<bool> stop_{false};
  std::thread prober_;
};

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive& d = ctx.directive;
  if (!d.args.empty()) {
    *error = "plugin/loop: " + config::ArgErrorAt(d.args[0]);
    return nullptr;
  }
  // "<random>.<random>.<first zone>", as CoreDNS builds it.
  std::mt19937_64 rng(std::random_device{}());
  wire::Name probe;
  const std::string& zone = ctx.zones.front();
  if (!wire::Name::FromText(std::to_string(rng() % 1000000000000000000ull) + "." +
                                std::to_string(rng() % 1000000000000000000ull) + "." +
                                (zone == "." ? "" : zone),
                            &probe)) {
    *error = "plugin/loop: " + config::ErrorAt(d.name, "zone too long for the loop probe");
    return nullptr;
  }
  // The first listen address of the block: a wildcard listener is reached on loopback.
  std::string address = ctx.bind.empty() ? "127.0.0.1" : ctx.bind.front();
  auto plugin = std::make_unique<Loop>(std::move(probe), address,
                                       ctx.block.addresses.front().port, ctx.host);
  plugin->StartProber();
  return plugin;
}

const Registrar kRegistrar({"loop", Setup, true});

}  // namespace
}  // namespace warpdns::slowpath::loop
