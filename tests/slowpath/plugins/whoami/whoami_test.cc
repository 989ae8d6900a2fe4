#include <gtest/gtest.h>

#include "tests/slowpath/plugins/plugin_test_util.h"

namespace warpdns::slowpath::whoami {
namespace {

using testutil::FakeHost;
using testutil::Load;
using testutil::MakeRequest;
using testutil::RecordingWriter;
using testutil::SockAddr;

class WhoamiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loaded_ = Load("example.org {\n  whoami\n}\n", "whoami", &host_);
    ASSERT_EQ(loaded_.error, "");
    ASSERT_NE(loaded_.get(), nullptr);
  }

  const wire::Message& Serve(Request& req) {
    Result r = RunSync(loaded_.get()->ServeDns(req, w_));
    EXPECT_EQ(r.rcode, wire::rcode::kNoError);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(w_.replies.size(), 1u);
    return w_.reply();
  }

  FakeHost host_;
  testutil::Loaded loaded_;
  RecordingWriter w_;
};

TEST_F(WhoamiTest, Ipv4OverUdp) {
  Request req = MakeRequest("Example.org.", wire::type::kA);
  req.remote = SockAddr("10.240.0.1", 40212);
  const wire::Message& m = Serve(req);
  EXPECT_TRUE(m.header.qr());
  EXPECT_TRUE(m.header.aa());
  EXPECT_TRUE(m.header.rd());
  EXPECT_EQ(m.header.id, req.msg.header.id);
  EXPECT_TRUE(m.answer.empty());
  EXPECT_TRUE(m.authority.empty());
  ASSERT_EQ(m.additional.size(), 2u);

  const wire::Rr& a = m.additional[0];
  EXPECT_EQ(a.name.ToText(), "Example.org.");  // the query's case
  EXPECT_EQ(a.type, wire::type::kA);
  EXPECT_EQ(a.rclass, wire::qclass::kIn);
  EXPECT_EQ(a.ttl, 0u);
  EXPECT_EQ(a.rdata, (std::vector<uint8_t>{10, 240, 0, 1}));

  const wire::Rr& srv = m.additional[1];
  EXPECT_EQ(srv.name.ToText(), "_udp.Example.org.");
  EXPECT_EQ(srv.type, wire::type::kSrv);
  EXPECT_EQ(srv.rclass, wire::qclass::kIn);
  EXPECT_EQ(srv.ttl, 0u);
  // priority 0, weight 0, port 40212 (0x9d14), target ".".
  EXPECT_EQ(srv.rdata, (std::vector<uint8_t>{0, 0, 0, 0, 0x9d, 0x14, 0}));
}

TEST_F(WhoamiTest, Ipv6OverTcpAnyType) {
  Request req = MakeRequest("example.org.", wire::type::kTxt);
  req.remote = SockAddr("2001:db8::1", 53000);
  req.proto = Proto::kTcp;
  const wire::Message& m = Serve(req);
  ASSERT_EQ(m.additional.size(), 2u);
  EXPECT_EQ(m.additional[0].type, wire::type::kAaaa);
  EXPECT_EQ(m.additional[0].rdata,
            (std::vector<uint8_t>{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(m.additional[1].name.ToText(), "_tcp.example.org.");
  EXPECT_EQ(m.additional[1].rdata, (std::vector<uint8_t>{0, 0, 0, 0, 0xcf, 0x08, 0}));
}

TEST_F(WhoamiTest, TlsCountsAsTcp) {
  Request req = MakeRequest("example.org.", wire::type::kA);
  req.proto = Proto::kTls;
  EXPECT_EQ(Serve(req).additional[1].name.ToText(), "_tcp.example.org.");
}

TEST_F(WhoamiTest, V4MappedClientIsIpv4) {
  Request req = MakeRequest("example.org.", wire::type::kA);
  req.remote = SockAddr("::ffff:192.0.2.7", 1);
  const wire::Message& m = Serve(req);
  EXPECT_EQ(m.additional[0].type, wire::type::kA);
  EXPECT_EQ(m.additional[0].rdata, (std::vector<uint8_t>{192, 0, 2, 7}));
}

TEST_F(WhoamiTest, RootQnameAndQueryClass) {
  Request req = MakeRequest(".", wire::type::kNs, wire::qclass::kCh);
  const wire::Message& m = Serve(req);
  EXPECT_EQ(m.additional[0].name.ToText(), ".");
  EXPECT_EQ(m.additional[0].rclass, wire::qclass::kCh);
  EXPECT_EQ(m.additional[1].name.ToText(), "_udp.");
  EXPECT_EQ(m.additional[1].rclass, wire::qclass::kCh);
}

TEST(WhoamiSetupTest, RejectsArguments) {
  FakeHost host;
  testutil::Loaded l = Load("example.org {\n  whoami foo\n}\n", "whoami", &host);
  EXPECT_EQ(l.error.rfind("plugin/whoami: ", 0), 0u) << l.error;
  EXPECT_NE(l.error.find("foo"), std::string::npos) << l.error;
}

}  // namespace
}  // namespace warpdns::slowpath::whoami
