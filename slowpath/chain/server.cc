#include "slowpath/chain/server.h"

#include <algorithm>
#include <cstring>

#include "slowpath/chain/clock.h"
#include "slowpath/metrics/dns_metrics.h"

namespace warpdns::slowpath {

namespace {

// miekg/dns's reject reply: the query's header turned into a response with
// `rcode`, AA and Z cleared, opcode reset to QUERY unless NOTIMP, and only
// the question (when it parsed). Records are never echoed back.
void WriteRejectReply(const uint8_t* pkt, size_t len, int rcode, std::vector<uint8_t>* reply) {
  wire::Header h;
  wire::ReadHeader(pkt, len, &h);
  wire::Message m;
  m.header.id = h.id;
  m.header.flags = h.flags;
  m.header.SetFlag(wire::flag::kQr, true);
  m.header.SetFlag(wire::flag::kAa, false);
  m.header.SetFlag(wire::flag::kZ, false);
  if (rcode != wire::rcode::kNotImp) m.header.set_opcode(wire::opcode::kQuery);
  m.header.set_rcode(rcode);
  if (h.qdcount == 1) {
    size_t off = wire::kHeaderSize;
    wire::Question q;
    if (wire::ReadName(pkt, len, &off, &q.name) == wire::ParseError::kOk && off + 4 <= len) {
      q.type = static_cast<uint16_t>(pkt[off] << 8 | pkt[off + 1]);
      q.qclass = static_cast<uint16_t>(pkt[off + 2] << 8 | pkt[off + 3]);
      m.question.push_back(q);
    }
  }
  wire::WriteMessage(m, wire::kMaxMessageSize, reply);
}

// request.SizeAndDo: the reply to a query with an OPT carries one that reflects
// it: version 0, the client's UDP size (not an upstream's), the low flag bits
// cleared and DO set when the query's is. Options a reply has are kept; an OPT
// added here has none (as wire::MakeReply's). The extended rcode is the
// message's own (miekg/dns recomputes it when packing).
bool SizeAndDo(const wire::Edns& query, wire::Edns* reply) {
  // A query of another EDNS version got BADVERS before the scrub writer.
  if (query.version != 0) return false;
  const uint16_t flags = static_cast<uint16_t>(
      ((reply->present ? reply->flags : query.flags) & 0xff00) | (query.flags & wire::kEdnsDoBit));
  if (reply->present && reply->version == 0 && reply->udp_size == query.udp_size &&
      reply->flags == flags) {
    return false;
  }
  reply->present = true;
  reply->version = 0;
  reply->udp_size = query.udp_size;
  reply->flags = flags;
  return true;
}

}  // namespace

void BufferWriter::WriteMsg(const wire::Message& reply) {
  // Like CoreDNS, a second write on the same request is an error; ignore it.
  if (written_) return;
  written_ = true;
  const wire::Message* out = &reply;
  wire::Message scrubbed;
  if (query_edns_ != nullptr && query_edns_->present) {
    wire::Edns edns = reply.edns;
    if (SizeAndDo(*query_edns_, &edns)) {
      scrubbed = reply;
      scrubbed.edns = std::move(edns);
      out = &scrubbed;
    }
  }
  wire::WriteMessage(*out, max_size_, out_);
  if (keep_ != nullptr) *keep_ = *out;
}

void Server::AddZone(const std::string& zone, std::shared_ptr<Chain> chain) {
  zones_[zone].push_back(std::move(chain));
}

std::vector<std::string> Server::Zones() const {
  std::vector<std::string> out;
  for (const auto& [zone, chains] : zones_) out.push_back(zone);
  return out;
}

std::vector<std::shared_ptr<Chain>> Server::Chains() const {
  std::vector<std::shared_ptr<Chain>> out;
  for (const auto& [zone, chains] : zones_) {
    for (const auto& c : chains) {
      if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    }
  }
  return out;
}

Server::Admission Server::Admit(const uint8_t* pkt, size_t len, const sockaddr_storage& remote,
                                const sockaddr_storage& local, Proto proto, Request* req,
                                std::vector<uint8_t>* reply) {
  reply->clear();
  wire::Header h;
  if (wire::ReadHeader(pkt, len, &h) != wire::ParseError::kOk) {
    counters_->dropped_short.fetch_add(1, std::memory_order_relaxed);
    return Admission::kDrop;
  }
  // miekg/dns's default accept function, which CoreDNS inherits.
  if (h.qr()) {
    counters_->dropped_response.fetch_add(1, std::memory_order_relaxed);
    return Admission::kDrop;
  }
  if (h.opcode() != wire::opcode::kQuery && h.opcode() != wire::opcode::kNotify) {
    counters_->notimp.fetch_add(1, std::memory_order_relaxed);
    WriteRejectReply(pkt, len, wire::rcode::kNotImp, reply);
    return Admission::kReply;
  }
  wire::ParseError err = wire::ParseError::kOk;
  if (h.qdcount != 1) {
    err = wire::ParseError::kBadQdcount;
  } else if (h.ancount > 1 || h.nscount > 1 || h.arcount > 2) {
    err = wire::ParseError::kBadCounts;
  }
  if (err == wire::ParseError::kOk) err = wire::ParseMessage(pkt, len, &req->msg);
  if (err != wire::ParseError::kOk) {
    counters_->formerr[static_cast<size_t>(err)].fetch_add(1, std::memory_order_relaxed);
    WriteRejectReply(pkt, len, wire::rcode::kFormErr, reply);
    return Admission::kReply;
  }
  req->remote = remote;
  req->local = local;
  req->proto = proto;
  req->size = len;
  req->server = label_;
  req->start_ns = MonotonicNs();
  if (memoizing_forbidden_) req->memoizable = false;
  in_flight_.fetch_add(1, std::memory_order_relaxed);  // until Respond() ends
  return Admission::kServe;
}

Task<void> Server::Respond(Request& req, std::vector<uint8_t>* reply) {
  reply->clear();
  BufferWriter w(req.UdpSize(), reply, nullptr, &req.msg.edns);
  bool failed = false;
  try {
    co_await Serve(req, w);
  } catch (const std::exception&) {
    // CoreDNS recovers a plugin's panic and answers SERVFAIL.
    counters_->panics.fetch_add(1, std::memory_order_relaxed);
    failed = true;
  }
  if (failed && !w.Written()) {
    wire::Message m = wire::MakeReply(req.msg);
    m.SetRcode(wire::rcode::kServFail);
    w.WriteMsg(m);
  }
  in_flight_.fetch_sub(1, std::memory_order_release);
}

bool Server::MayMemoize(const Request& req) {
  if (!req.memoizable || req.chain == nullptr || req.proto != Proto::kUdp) return false;
  return req.replay_from != nullptr ? req.chain->ReplayableBefore(req.replay_from)
                                    : req.chain->Deterministic();
}

bool Server::Memoizable(const Request& req, const std::vector<uint8_t>& reply) {
  if (reply.size() < wire::kHeaderSize || !MayMemoize(req)) return false;
  wire::Header h;
  wire::ReadHeader(reply.data(), reply.size(), &h);
  const int rcode = h.rcode();
  return !h.tc() && (rcode == wire::rcode::kNoError || rcode == wire::rcode::kNxDomain);
}

Task<void> Server::Handle(std::vector<uint8_t> pkt, sockaddr_storage remote,
                          sockaddr_storage local, Proto proto, std::vector<uint8_t>* reply) {
  Request req;
  if (Admit(pkt.data(), pkt.size(), remote, local, proto, &req, reply) == Admission::kServe) {
    co_await Respond(req, reply);
  }
}

Task<void> Server::Serve(Request& req, ResponseWriter& w) {
  auto write_rcode = [&](int rcode) {
    wire::Message m = wire::MakeReply(req.msg);
    m.SetRcode(rcode);
    w.WriteMsg(m);
  };
  // CoreDNS's errorAndMetricsFunc: rejected before any chain, counted under
  // the zone "dropped".
  auto drop = [&](int rcode) {
    write_rcode(rcode);
    if (req.FromClient()) {
      metrics::ReportRequest(req, metrics::kDroppedZone, rcode, "", w.Len(),
                             MonotonicNs() - req.start_ns);
    }
  };
  if (req.msg.question.empty()) {
    drop(wire::rcode::kServFail);
    co_return;
  }
  if (!class_chaos_ && req.QClass() != wire::qclass::kIn) {
    drop(wire::rcode::kRefused);
    co_return;
  }
  if (req.msg.edns.present && req.msg.edns.version != 0) {
    // CoreDNS (plugin/pkg/edns.Version): no question, OPT version 0 with UDP
    // size 0, extended rcode BADVERS.
    wire::Message m = wire::MakeReply(req.msg);
    m.question.clear();
    m.edns = wire::Edns{};
    m.edns.present = true;
    m.SetRcode(wire::rcode::kBadVers);
    w.WriteMsg(m);
    co_return;
  }

  const Chain* chain = nullptr;
  std::string zone;
  if (!Route(req, &chain, &zone)) {
    drop(wire::rcode::kRefused);
    co_return;
  }
  Plugin* head = chain->head();
  if (head == nullptr) {
    write_rcode(wire::rcode::kRefused);
    co_return;
  }
  req.zone = zone;
  req.chain = chain;
  req.active_plugin = head->Name();
  Result r = co_await head->ServeDns(req, w);
  if (CallerMustWrite(r.rcode) && !w.Written()) write_rcode(r.rcode);
}

bool Server::Route(const Request& req, const Chain** chain, std::string* zone) const {
  // Longest zone match first; a DS query keeps searching towards the root so
  // a parent zone on the same listener answers it (the last match wins).
  const bool is_ds = req.QType() == wire::type::kDs;
  const std::string qname = req.QNameText();
  for (size_t off = 0; off < qname.size() && qname != ".";) {
    auto it = zones_.find(qname.substr(off));
    if (it != zones_.end() && !it->second.empty()) {
      *chain = it->second.front().get();
      *zone = it->first;
      if (!is_ds) return true;
    }
    // Next label: skip to past the next unescaped dot.
    size_t i = off;
    while (i < qname.size() && qname[i] != '.') i += (qname[i] == '\\') ? 2 : 1;
    off = i + 1;
    if (off >= qname.size()) break;
  }
  if (*chain != nullptr) return true;
  if (auto it = zones_.find("."); it != zones_.end() && !it->second.empty()) {
    *chain = it->second.front().get();
    *zone = ".";
    return true;
  }
  return false;
}

}  // namespace warpdns::slowpath
