#include "tp/telemetry/labels.h"

#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tp/testing/testing.h"

namespace tp::telemetry {
namespace {

using ::tp::testing::TestLabel;

TEST(LabelsTest, ParsesDcgmLabelsRaw) {
  // A real labels_raw value from the shipped CSV, after CSV unquoting.
  const std::string raw =
      R"(DCGM_FI_DRIVER_VERSION="535.129.03",Hostname="mtv5-dgx1-hgpu-031",)"
      R"(UUID="GPU-5fd4f087-86f3-7a43-b711-4771313afc50",__name__="DCGM_FI_DEV_GPU_UTIL",)"
      R"(device="nvidia0",gpu="0",instance="mtv5-dgx1-hgpu-031:9400",)"
      R"(job="dgx_dcgm_exporter",modelName="NVIDIA H100 80GB HBM3")";
  ASSERT_OK_AND_ASSIGN(Labels labels, ParseLabels(raw));
  EXPECT_EQ(labels.size(), 9u);
  EXPECT_EQ(labels["DCGM_FI_DRIVER_VERSION"], "535.129.03");
  EXPECT_EQ(labels["UUID"], "GPU-5fd4f087-86f3-7a43-b711-4771313afc50");
  EXPECT_EQ(labels["modelName"], "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(labels["instance"], "mtv5-dgx1-hgpu-031:9400");
  // DCGM writes keys sorted, so formatting gives the original text back.
  EXPECT_EQ(FormatLabels(labels), raw);
}

TEST(LabelsTest, HandlesEscapesAndSpecialCharacters) {
  ASSERT_OK_AND_ASSIGN(
      Labels labels,
      ParseLabels(R"(a="say \"hi\"",b="back\\slash",c="line\nbreak",d="x,y=z",e="")"));
  EXPECT_EQ(labels["a"], R"(say "hi")");
  EXPECT_EQ(labels["b"], R"(back\slash)");
  EXPECT_EQ(labels["c"], "line\nbreak");
  EXPECT_EQ(labels["d"], "x,y=z");
  EXPECT_EQ(labels["e"], "");
  ASSERT_OK_AND_ASSIGN(Labels again, ParseLabels(FormatLabels(labels)));
  EXPECT_EQ(again, labels);
}

TEST(LabelsTest, AcceptsEmptySpacesAndTrailingComma) {
  ASSERT_OK_AND_ASSIGN(Labels empty, ParseLabels(""));
  EXPECT_TRUE(empty.empty());
  ASSERT_OK_AND_ASSIGN(Labels blank, ParseLabels("   "));
  EXPECT_TRUE(blank.empty());
  ASSERT_OK_AND_ASSIGN(Labels spaced, ParseLabels(R"( a = "1" , b="2", )"));
  EXPECT_EQ(spaced, (Labels{{"a", "1"}, {"b", "2"}}));
}

// The streaming form: labels in the order written, values unescaped, the same errors.
TEST(LabelsTest, ForEachLabelHandsOnLabelsInOrder) {
  const std::string raw = R"(z="1",a="say \"hi\"",m="",b="x\\y")";
  std::vector<std::pair<std::string, std::string>> seen;
  ASSERT_OK(ForEachLabel(raw, [&](std::string_view key, std::string_view value) {
    seen.emplace_back(key, value);
    return Status::Ok();
  }));
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"z", "1"}, {"a", R"(say "hi")"}, {"m", ""}, {"b", R"(x\y)"}};
  EXPECT_EQ(seen, expected);

  // A duplicate is found however far apart the two are, and named at the second one.
  const std::string dup = R"(a="1",b="2",c="3",b="4")";
  const Status s =
      ForEachLabel(dup, [](std::string_view, std::string_view) { return Status::Ok(); });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("at byte 18: duplicate label"), std::string::npos)
      << s.message();

  // The callback stops the walk with its own status.
  int calls = 0;
  const Status stopped = ForEachLabel(raw, [&](std::string_view, std::string_view) {
    return ++calls == 2 ? Status::FailedPrecondition("enough") : Status::Ok();
  });
  EXPECT_EQ(stopped.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(calls, 2);
}

struct BadLabels {
  const char* raw;
  const char* why;
};

void PrintTo(const BadLabels& c, std::ostream* os) {
  *os << TestLabel(c.raw);
}

class LabelsRejectTest : public ::testing::TestWithParam<BadLabels> {};

TEST_P(LabelsRejectTest, IsAnErrorNotACrash) {
  auto r = ParseLabels(GetParam().raw);
  ASSERT_FALSE(r.ok()) << GetParam().raw;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(GetParam().why), std::string::npos)
      << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(Table,
                         LabelsRejectTest,
                         ::testing::Values(BadLabels{"a", "expected '='"},
                                           BadLabels{"a=", "open the value"},
                                           BadLabels{"a=1", "open the value"},
                                           BadLabels{R"(a="1)", "unterminated"},
                                           BadLabels{R"(a="1\)", "unterminated"},
                                           BadLabels{R"(a="\q")", "unknown escape"},
                                           BadLabels{R"(a="1" b="2")", "expected ','"},
                                           BadLabels{R"(a="1",a="2")", "duplicate"},
                                           BadLabels{R"(1a="1")", "label name"},
                                           BadLabels{R"(="1")", "label name"},
                                           BadLabels{R"(a="1",,b="2")", "label name"},
                                           // Still CSV-quoted: doubled quotes.
                                           BadLabels{R"(a=""1"")", "expected ','"}));

TEST(LabelsTest, ArbitraryBytesNeverCrash) {
  // Every prefix of a valid string is either valid or a clean error.
  const std::string raw = R"(a="x\"y",bb="",c_1="z\\")";
  for (size_t i = 0; i <= raw.size(); ++i) {
    auto r = ParseLabels(raw.substr(0, i));
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace tp::telemetry
