// CoreDNS's plugin/pkg/response: what kind of reply a message is. Shared by
// every plugin that classifies replies (log classes, cache storage rules).
#ifndef WARPDNS_SLOWPATH_CHAIN_RESPONSE_H_
#define WARPDNS_SLOWPATH_CHAIN_RESPONSE_H_

#include <cstdint>
#include <string_view>

#include "fastpath/wire/message.h"

namespace warpdns::slowpath {

enum class ResponseType {
  kNoError,
  kNameError,
  kServerError,
  kNoData,
  kDelegation,
  kMeta,
  kUpdate,
  kOtherError
};

// response.Typify. With DO set, a reply carrying an expired RRSIG is
// kOtherError.
ResponseType Typify(const fastpath::wire::Message& m);

// response.Type.String(): "NOERROR", "NXDOMAIN", "NODATA", ...
std::string_view ResponseTypeName(ResponseType t);

// An RRSIG outside its validity period at `now` (unix seconds), with RFC
// 4034's serial arithmetic on the 32-bit times (miekg/dns ValidityPeriod).
bool RrsigExpired(const fastpath::wire::Rr& rr, int64_t now);

// Whether the authority section holds a SOA.
bool HasSoa(const fastpath::wire::Message& m);

}  // namespace warpdns::slowpath

#endif  // WARPDNS_SLOWPATH_CHAIN_RESPONSE_H_
