#include "slowpath/chain/response.h"

#include <ctime>

namespace warpdns::slowpath {

namespace wire = ::warpdns::fastpath::wire;

bool RrsigExpired(const wire::Rr& rr, int64_t now) {
  if (rr.rdata.size() < 16) return false;
  auto u32 = [&](size_t off) {
    return int64_t{rr.rdata[off]} << 24 | int64_t{rr.rdata[off + 1]} << 16 |
           int64_t{rr.rdata[off + 2]} << 8 | int64_t{rr.rdata[off + 3]};
  };
  constexpr int64_t kYear68 = int64_t{1} << 31;
  const int64_t expiration = u32(8);
  const int64_t inception = u32(12);
  const int64_t ti = inception + (inception - now) / kYear68 * kYear68;
  const int64_t te = expiration + (expiration - now) / kYear68 * kYear68;
  return !(ti <= now && now <= te);
}

bool HasSoa(const wire::Message& m) {
  for (const wire::Rr& rr : m.authority) {
    if (rr.type == wire::type::kSoa) return true;
  }
  return false;
}

ResponseType Typify(const wire::Message& m) {
  if (m.header.opcode() == wire::opcode::kUpdate) return ResponseType::kUpdate;
  if (m.header.opcode() == wire::opcode::kNotify) return ResponseType::kMeta;
  if (!m.question.empty() &&
      (m.question[0].type == wire::type::kAxfr || m.question[0].type == wire::type::kIxfr)) {
    return ResponseType::kMeta;
  }
  if (m.edns.present && m.edns.dnssec_ok()) {
    const int64_t now = std::time(nullptr);
    for (const auto* section : {&m.answer, &m.authority, &m.additional}) {
      for (const wire::Rr& rr : *section) {
        if (rr.type == wire::type::kRrsig && RrsigExpired(rr, now)) {
          return ResponseType::kOtherError;
        }
      }
    }
  }
  const int rcode = m.Rcode();
  if (!m.answer.empty()) {
    if (rcode == wire::rcode::kNoError) return ResponseType::kNoError;
    if (rcode == wire::rcode::kNxDomain) return ResponseType::kOtherError;
  }
  const bool soa = HasSoa(m);
  bool ns = false;
  for (const wire::Rr& rr : m.authority) ns = ns || rr.type == wire::type::kNs;
  if (soa && rcode == wire::rcode::kNoError) return ResponseType::kNoData;
  if (soa && rcode == wire::rcode::kNxDomain) return ResponseType::kNameError;
  if (rcode == wire::rcode::kServFail || rcode == wire::rcode::kNotImp) {
    return ResponseType::kServerError;
  }
  if (ns && rcode == wire::rcode::kNoError) return ResponseType::kDelegation;
  if (rcode == wire::rcode::kNoError) return ResponseType::kNoError;
  return ResponseType::kOtherError;
}

std::string_view ResponseTypeName(ResponseType t) {
  switch (t) {
    case ResponseType::kNoError: return "NOERROR";
    case ResponseType::kNameError: return "NXDOMAIN";
    case ResponseType::kServerError: return "SERVERERROR";
    case ResponseType::kNoData: return "NODATA";
    case ResponseType::kDelegation: return "DELEGATION";
    case ResponseType::kMeta: return "META";
    case ResponseType::kUpdate: return "UPDATE";
    case ResponseType::kOtherError: return "OTHERERROR";
  }
  return "OTHERERROR";
}

}  // namespace warpdns::slowpath
