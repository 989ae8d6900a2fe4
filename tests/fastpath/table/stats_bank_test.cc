#include "fastpath/table/stats_bank.h"

#include <gtest/gtest.h>

namespace warpdns::fastpath {
namespace {

TEST(StatsBankTest, BucketsAreCoreDnsBounds) {
  // le semantics: a value on a bound falls in that bound's bucket.
  EXPECT_EQ(StatsBank::SizeBucket(0), 0u);
  EXPECT_EQ(StatsBank::SizeBucket(1), 1u);
  EXPECT_EQ(StatsBank::SizeBucket(100), 1u);
  EXPECT_EQ(StatsBank::SizeBucket(101), 2u);
  EXPECT_EQ(StatsBank::SizeBucket(511), 5u);
  EXPECT_EQ(StatsBank::SizeBucket(512), 6u);
  EXPECT_EQ(StatsBank::SizeBucket(64000), 13u);
  EXPECT_EQ(StatsBank::SizeBucket(65535), 14u);  // +Inf
  EXPECT_EQ(StatsBank::DurationBucket(0), 0u);
  EXPECT_EQ(StatsBank::DurationBucket(250'000), 0u);
  EXPECT_EQ(StatsBank::DurationBucket(250'001), 1u);
  EXPECT_EQ(StatsBank::DurationBucket(1'000'000), 2u);
  EXPECT_EQ(StatsBank::DurationBucket(int64_t{250'000} << 15), 15u);
  EXPECT_EQ(StatsBank::DurationBucket(int64_t{250'000} << 16), 16u);  // +Inf
}

TEST(StatsBankTest, RowsAddUpAndReleasedRowsKeepTheirCounts) {
  StatsBank& bank = StatsBank::Get();
  const uint16_t id = bank.Id("stats-bank-test");
  ASSERT_NE(id, 0);
  EXPECT_EQ(bank.Id("stats-bank-test"), id);
  StatsBank::Row a = bank.AddRow();
  StatsBank::Row b = bank.AddRow();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  StatsBank::Count(a, id, 1, true, 40, 120);
  StatsBank::Count(b, id, 2, false, 40, 600);
  StatsBank::CountDuration(a, id, 1000, StatsBank::DurationBucket(1000));
  bank.ReleaseRow(a);
  StatsBank::Row c = bank.AddRow();  // `a` again, counts kept
  EXPECT_EQ(c, a);
  StatsBank::Count(c, id, 1, false, 40, 120);
  const StatsBank::Totals t = bank.Sum(id);
  EXPECT_EQ(t.requests[0], 2u);
  EXPECT_EQ(t.requests[1], 1u);
  EXPECT_EQ(t.do_requests, 1u);
  EXPECT_EQ(t.request_size[StatsBank::SizeBucket(40)], 3u);
  EXPECT_EQ(t.request_size_sum, 120u);
  EXPECT_EQ(t.response_size[StatsBank::SizeBucket(120)], 2u);
  EXPECT_EQ(t.response_size[StatsBank::SizeBucket(600)], 1u);
  EXPECT_EQ(t.response_size_sum, 840u);
  EXPECT_EQ(t.duration[0], 1u);
  EXPECT_EQ(t.duration_sum_ns, 1000u);
  bank.ReleaseRow(b);
  bank.ReleaseRow(c);
}

}  // namespace
}  // namespace warpdns::fastpath
