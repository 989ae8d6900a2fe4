#include "slowpath/publish/prebuild.h"

#include <netinet/in.h>
#include <pthread.h>

#include <asio.hpp>
#include <chrono>

#include "fastpath/table/generation.h"
#include "fastpath/table/query_key.h"

namespace warpdns::slowpath {
namespace {

// The query shapes clients send most: stub resolvers and load generators
// (RD, no EDNS), dig and modern stubs (RD, EDNS 1232), recursive resolvers
// asking an authoritative server (no RD, EDNS 1232 with DO).
struct Shape {
  bool rd;
  bool edns;
  bool dnssec_ok;
};
constexpr Shape kShapes[] = {{true, false, false}, {true, true, false}, {false, true, true}};

// Questions run concurrently on the build's event loop.
constexpr size_t kBatch = 256;
// A data change soon after a build waits this long, so that a burst of
// changes (a Kubernetes sync, a zone and its hosts file) costs one build.
constexpr auto kMinInterval = std::chrono::seconds(1);

std::vector<uint8_t> QueryWire(const wire::Question& q, const Shape& shape) {
  wire::Message m;
  m.header.id = 0;
  m.header.SetFlag(wire::flag::kRd, shape.rd);
  m.question.push_back(q);
  if (shape.edns) {
    m.edns.present = true;
    m.edns.udp_size = 1232;
    m.edns.flags = shape.dnssec_ok ? wire::kEdnsDoBit : 0;
  }
  std::vector<uint8_t> out;
  wire::WriteMessage(m, wire::kMaxMessageSize, &out);
  return out;
}

// Runs one query through `server` and offers a memoizable answer. A
// coroutine with its own copies of everything (a lambda's captures would
// not outlive the first suspension).
Task<void> PrebuildOne(std::shared_ptr<Server> server, std::vector<uint8_t> query, uint16_t port,
                       sockaddr_storage local, Publisher* publisher, uint64_t generation,
                       uint64_t* answers) {
  fastpath::QueryKey key;
  if (!fastpath::MakeQueryKey(query.data(), query.size(), port, &key)) co_return;
  sockaddr_storage remote{};
  reinterpret_cast<sockaddr_in&>(remote).sin_family = AF_INET;
  Request req;
  std::vector<uint8_t> reply;
  if (server->Admit(query.data(), query.size(), remote, local, Proto::kUdp, &req, &reply) !=
      Server::Admission::kServe) {
    co_return;
  }
  req.prebuild = true;
  co_await server->Respond(req, &reply);
  if (Server::Memoizable(req, reply)) {
    publisher->Memoize(key, reply.data(), reply.size(), generation, Server::Replay(req));
    ++*answers;
  }
}

}  // namespace

Prebuilder::Prebuilder(Publisher* publisher, Servers servers, size_t limit)
    : publisher_(publisher), servers_(std::move(servers)), limit_(limit) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "prebuild");
    Run();
  });
}

Prebuilder::~Prebuilder() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Prebuilder::Stats Prebuilder::stats() const {
  return Stats{builds_.load(std::memory_order_relaxed), answers_.load(std::memory_order_relaxed),
               questions_.load(std::memory_order_relaxed)};
}

void Prebuilder::Run() {
  // The change count of the last complete build: the data generation and
  // every source's (a Kubernetes or etcd change retires its answers only).
  uint64_t built = UINT64_MAX;
  auto last = std::chrono::steady_clock::now() - kMinInterval;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      // Changes do not notify anyone: look every 50 ms.
      wake_.wait_for(lock, std::chrono::milliseconds(50), [&] { return stop_; });
      if (stop_) return;
    }
    const uint64_t changes = fastpath::DataChanges();
    if (changes == built || std::chrono::steady_clock::now() - last < kMinInterval) continue;
    last = std::chrono::steady_clock::now();
    if (Build(fastpath::DataGeneration())) {
      built = changes;
      builds_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

bool Prebuilder::Build(uint64_t generation) {
  asio::io_context io(1);
  uint64_t answers = 0, questions = 0;
  for (const auto& [port, server] : servers_()) {
    std::vector<wire::Question> qs;
    for (const std::shared_ptr<Chain>& chain : server->Chains()) {
      if (!chain->Deterministic()) continue;
      for (const auto& plugin : chain->plugins) plugin->PrebuildQuestions(&qs, limit_);
    }
    questions += qs.size();
    sockaddr_storage local{};
    reinterpret_cast<sockaddr_in&>(local).sin_family = AF_INET;
    reinterpret_cast<sockaddr_in&>(local).sin_port = htons(port);
    for (size_t start = 0; start < qs.size(); start += kBatch) {
      if (fastpath::DataGeneration() != generation) return false;
      for (size_t i = start; i < qs.size() && i < start + kBatch; ++i) {
        for (const Shape& shape : kShapes) {
          asio::co_spawn(io,
                         PrebuildOne(server, QueryWire(qs[i], shape), port, local, publisher_,
                                     generation, &answers),
                         asio::detached);
        }
      }
      io.run();
      io.restart();
    }
  }
  answers_.store(answers, std::memory_order_relaxed);
  questions_.store(questions, std::memory_order_relaxed);
  return true;
}

}  // namespace warpdns::slowpath
