#include "fastpath/rcu/rcu.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace warpdns::fastpath::rcu {
namespace {

std::unique_ptr<Domain> MakeDomain(uint32_t max_readers) {
  std::string error;
  std::unique_ptr<Domain> domain = Domain::Create(max_readers, &error);
  EXPECT_NE(domain, nullptr) << error;
  return domain;
}

// Counts its own destruction, to see when the reclaimer frees it.
struct Tracked {
  Tracked(int value, int* destroyed) : value(value), destroyed(destroyed) {}
  ~Tracked() { ++*destroyed; }
  int value;
  int* destroyed;
};

TEST(DomainTest, CreateRejectsZeroReaders) {
  std::string error;
  EXPECT_EQ(Domain::Create(0, &error), nullptr);
  EXPECT_NE(error, "");
}

TEST(DomainTest, RegisterChecksIds) {
  auto domain = MakeDomain(2);
  EXPECT_EQ(domain->max_readers(), 2u);
  EXPECT_FALSE(domain->Register(2).has_value());
  std::optional<ReaderHandle> r0 = domain->Register(0);
  ASSERT_TRUE(r0.has_value());
  EXPECT_EQ(r0->id(), 0u);
  EXPECT_FALSE(domain->Register(0).has_value()) << "taken";
  r0.reset();
  EXPECT_TRUE(domain->Register(0).has_value()) << "free again once the handle is gone";
}

TEST(DomainTest, MovedHandleKeepsTheRegistration) {
  auto domain = MakeDomain(2);
  std::optional<ReaderHandle> a = domain->Register(1);
  ASSERT_TRUE(a.has_value());
  ReaderHandle b = std::move(*a);
  a.reset();  // the moved-from handle must not unregister id 1
  EXPECT_FALSE(domain->Register(1).has_value());
  b.Online();
  const uint64_t token = domain->Start();
  EXPECT_FALSE(domain->Check(token)) << "b is still a registered, online reader";
  std::optional<ReaderHandle> c = domain->Register(0);
  ASSERT_TRUE(c.has_value());
  b = std::move(*c);  // releases id 1 (offline + unregister)
  EXPECT_TRUE(domain->Check(token));
  EXPECT_TRUE(domain->Register(1).has_value());
}

TEST(DomainTest, GracePeriodFollowsReaders) {
  auto domain = MakeDomain(4);  // fewer registered than max: the selective check
  std::optional<ReaderHandle> r1 = domain->Register(1);
  std::optional<ReaderHandle> r3 = domain->Register(3);
  ASSERT_TRUE(r1 && r3);

  EXPECT_TRUE(domain->Check(domain->Start())) << "offline readers hold nothing";

  r1->Online();
  r3->Online();
  const uint64_t token = domain->Start();
  EXPECT_FALSE(domain->Check(token));
  r1->Quiescent();
  EXPECT_FALSE(domain->Check(token)) << "r3 has not reported";
  r3->Offline();
  EXPECT_TRUE(domain->Check(token));

  const uint64_t token2 = domain->Start();
  EXPECT_FALSE(domain->Check(token2));
  r3->Online();  // came online after Start: cannot hold anything older
  r1->Quiescent();
  EXPECT_TRUE(domain->Check(token2));
  r1->Offline();
  r3->Offline();
}

TEST(PublishedTest, OldVersionFreedAfterGracePeriod) {
  auto domain = MakeDomain(1);
  std::optional<ReaderHandle> reader = domain->Register(0);
  ASSERT_TRUE(reader.has_value());
  int destroyed = 0;
  {
    Reclaimer reclaimer(*domain);
    Published<Tracked> published(std::make_unique<Tracked>(1, &destroyed));
    reader->Online();
    const Tracked& held = published.Get();
    EXPECT_EQ(held.value, 1);

    published.Publish(std::make_unique<Tracked>(2, &destroyed), reclaimer);
    EXPECT_EQ(published.Get().value, 2);
    EXPECT_EQ(reclaimer.pending(), 1u);
    EXPECT_EQ(reclaimer.ReclaimReady(), 0u) << "the reader may still hold version 1";
    EXPECT_EQ(held.value, 1);
    EXPECT_EQ(destroyed, 0);

    reader->Quiescent();
    EXPECT_EQ(reclaimer.ReclaimReady(), 1u);
    EXPECT_EQ(destroyed, 1);
    EXPECT_EQ(reclaimer.pending(), 0u);

    // Two publishes within one reader iteration: both wait, both go together.
    published.Publish(std::make_unique<Tracked>(3, &destroyed), reclaimer);
    published.Publish(std::make_unique<Tracked>(4, &destroyed), reclaimer);
    EXPECT_EQ(reclaimer.ReclaimReady(), 0u);
    reader->Quiescent();
    EXPECT_EQ(reclaimer.ReclaimReady(), 2u);
    EXPECT_EQ(destroyed, 3);
    reader->Offline();

    published.Publish(std::make_unique<Tracked>(5, &destroyed), reclaimer);
    EXPECT_EQ(reclaimer.pending(), 1u);
  }
  // The reclaimer drained version 4 and the Published deleted version 5.
  EXPECT_EQ(destroyed, 5);
}

TEST(PublishedTest, FirstPublishRetiresNothing) {
  auto domain = MakeDomain(1);
  Reclaimer reclaimer(*domain);
  int destroyed = 0;
  Published<Tracked> published;
  published.Publish(std::make_unique<Tracked>(1, &destroyed), reclaimer);
  EXPECT_EQ(reclaimer.pending(), 0u);
  EXPECT_EQ(published.Get().value, 1);
}

TEST(ReclaimerTest, ReclaimReadyStopsAtTheFirstUnfinishedToken) {
  auto domain = MakeDomain(1);
  std::optional<ReaderHandle> reader = domain->Register(0);
  ASSERT_TRUE(reader.has_value());
  Reclaimer reclaimer(*domain);
  std::vector<int> order;
  reclaimer.Retire([&] { order.push_back(1); }, domain->Start());  // no reader online yet
  reader->Online();
  reclaimer.Retire([&] { order.push_back(2); }, domain->Start());
  reclaimer.Retire([&] { order.push_back(3); }, domain->Start());
  EXPECT_EQ(reclaimer.ReclaimReady(), 1u);
  EXPECT_EQ(order, std::vector<int>{1});
  reader->Quiescent();
  EXPECT_EQ(reclaimer.ReclaimReady(), 2u);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  reader->Offline();
}

TEST(ReclaimerTest, DrainWaitsForAnOnlineReader) {
  auto domain = MakeDomain(1);
  std::optional<ReaderHandle> handle = domain->Register(0);
  ASSERT_TRUE(handle.has_value());
  std::atomic<bool> online{false};
  std::atomic<bool> reported{false};
  std::thread reader([&, h = std::move(*handle)]() mutable {
    h.Online();
    online.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    reported.store(true);
    h.Quiescent();
    h.Offline();
  });
  while (!online.load()) std::this_thread::yield();
  Reclaimer reclaimer(*domain);
  bool freed_after_report = false;
  reclaimer.Retire([&] { freed_after_report = reported.load(); }, domain->Start());
  EXPECT_EQ(reclaimer.Drain(), 1u);
  EXPECT_TRUE(freed_after_report);
  reader.join();
}

}  // namespace
}  // namespace warpdns::fastpath::rcu
