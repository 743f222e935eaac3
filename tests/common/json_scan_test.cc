#include "tp/json_scan.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tp/testing/testing.h"

namespace tp::json_scan {
namespace {

// A real telemetry message, as the streamer publishes it.
constexpr std::string_view kMessage =
    R"({"timestamp":"2025-07-18T20:42:34.123456Z","metric_name":"DCGM_FI_DEV_GPU_UTIL",)"
    R"("gpu_id":"0","device":"nvidia0","uuid":"GPU-5fd4f087-86f3-7a43-b711-4771313afc50",)"
    R"("model_name":"NVIDIA H100 80GB HBM3","hostname":"mtv5-dgx1-hgpu-031","container":"",)"
    R"("pod":"","namespace":"","value":-1.5e-3,"labels_raw":"DCGM_FI_DRIVER_VERSION=\"535.129.03\",)"
    R"(Hostname=\"mtv5-dgx1-hgpu-031\""})";

TEST(JsonScanTest, AcceptsWhatRfc8259Allows) {
  for (std::string_view text :
       std::vector<std::string_view>{"{}",
                                     " [ ] ",
                                     "0",
                                     "-0",
                                     "-0.5e+10",
                                     "1E-2",
                                     "123456789012345678901234567890",
                                     "1e308",
                                     "1e-400",
                                     "0.0000001e310",
                                     "true",
                                     "false",
                                     "null",
                                     R"("")",
                                     R"("\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00")",
                                     "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"",
                                     R"({"a":[1,{"b":null}],"c":"d"})",
                                     " \t\r\n{ \"k\" : 1 } \n",
                                     kMessage}) {
    EXPECT_TRUE(IsValid(text)) << text;
    EXPECT_TRUE(nlohmann::json::accept(text)) << text;  // the reference agrees
  }
}

TEST(JsonScanTest, RejectsWhatRfc8259Forbids) {
  for (std::string_view text : {"",
                                " ",
                                "{",
                                "}",
                                "[1,]",
                                R"({"a":1,})",
                                R"({"a" 1})",
                                R"({a:1})",
                                "{1:2}",
                                "01",
                                "1.",
                                ".5",
                                "+1",
                                "1e",
                                "-",
                                "NaN",
                                "1e309",  // beyond a double, as nlohmann says
                                "-2E+999999999999",
                                "Infinity",
                                "tru",
                                "nul",
                                "'a'",
                                R"("unterminated)",
                                "\"tab\there\"",
                                R"("\x")",
                                R"("\u12")",
                                R"("\uDE00")",        // lone low surrogate
                                R"("\uD83D")",        // high surrogate without its pair
                                R"("\uD83D\u0041")",  // high surrogate, then no low one
                                "\"\xC0\xAF\"",       // overlong '/'
                                "\"\xED\xA0\x80\"",   // a surrogate in UTF-8
                                "\"\xF4\x90\x80\x80\"",  // above U+10FFFF
                                "\"\xE2\x82\"",          // truncated sequence
                                "\"\x80\"",
                                "1 2",
                                "{} {}",
                                "[1] x"}) {
    EXPECT_FALSE(IsValid(text)) << text;
    EXPECT_FALSE(nlohmann::json::accept(text)) << text;
  }
}

TEST(JsonScanTest, LimitsNesting) {
  const std::string ok = std::string(kMaxDepth, '[') + std::string(kMaxDepth, ']');
  const std::string deep =
      std::string(kMaxDepth + 1, '[') + std::string(kMaxDepth + 1, ']');
  EXPECT_TRUE(IsValid(ok));
  EXPECT_FALSE(IsValid(deep));
  const std::string hostile(1'000'000, '[');  // would overflow a naive recursion
  EXPECT_FALSE(IsValid(hostile));
}

TEST(JsonScanTest, IsObjectWantsAnObject) {
  EXPECT_TRUE(IsObject(" {\"a\":1} "));
  EXPECT_FALSE(IsObject("[1]"));
  EXPECT_FALSE(IsObject("\"{}\""));
  EXPECT_FALSE(IsObject("{\"a\":}"));
}

TEST(JsonScanTest, ParseSaysWhereItBroke) {
  auto v = Parse(R"({"a": [1, 2,, 3]})");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(v.status().message(), "malformed JSON at byte 12");
}

// Differential test: random damage to real messages and to a structured document; the
// scanner and nlohmann::json::accept must agree on every variant.
TEST(JsonScanTest, AgreesWithNlohmannOnDamagedInput) {
  const std::vector<std::string> seeds = {
      std::string(kMessage),
      R"({"a":[1,-2.5e3,true,false,null,{"b":"\u00e9\ud83d\ude00"}],"c":{}})",
      "[\"caf\xC3\xA9\",0,-0.0,1E+2]"};
  const std::string alphabet =
      "{}[]:,\"\\/ubfnrt0123456789-+.eE aZ\x01\x7f\x80\xC3\xED\xF4\xFF";
  std::mt19937 rng(20261123);
  int valid = 0;
  int invalid = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = rng() % text.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          text[at] = c;
          break;
        case 1:
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        default:
          text.erase(at, 1);
      }
    }
    const bool expected = nlohmann::json::accept(text);
    ASSERT_EQ(IsValid(text), expected) << "input: " << text;
    (expected ? valid : invalid)++;
  }
  // Both kinds were exercised.
  EXPECT_GT(valid, 500);
  EXPECT_GT(invalid, 5000);
}

TEST(JsonScanTest, WalksMembersAsViews) {
  ASSERT_OK_AND_ASSIGN(Value doc, Parse(kMessage));
  std::vector<std::string> keys;
  std::string value_text;
  std::string labels;
  ASSERT_OK(ForEachMember(doc, [&](std::string_view key, Value v) {
    keys.emplace_back(key);
    if (key == "value") {
      EXPECT_EQ(v.kind, Kind::kNumber);
      value_text = v.text;
    }
    if (key == "labels_raw") {
      EXPECT_EQ(v.kind, Kind::kString);
      labels = DecodeString(v);
    }
    return Status::Ok();
  }));
  EXPECT_EQ(keys.size(), 12u);
  EXPECT_EQ(keys.front(), "timestamp");
  EXPECT_EQ(value_text, "-1.5e-3");
  EXPECT_EQ(labels,
            "DCGM_FI_DRIVER_VERSION=\"535.129.03\",Hostname=\"mtv5-dgx1-hgpu-031\"");
}

TEST(JsonScanTest, DecodesEscapesAndEscapedKeys) {
  ASSERT_OK_AND_ASSIGN(
      Value doc,
      Parse(R"({"k\u0065y":"a\"b\\c\/d\b\f\n\r\t \u00e9 \u20ac \ud83d\ude00"})"));
  std::string key;
  std::string value;
  ASSERT_OK(ForEachMember(doc, [&](std::string_view k, Value v) {
    key = k;
    value = DecodeString(v);
    return Status::Ok();
  }));
  EXPECT_EQ(key, "key");
  EXPECT_EQ(value, "a\"b\\c/d\b\f\n\r\t \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  // The same as the reference decoder.
  EXPECT_EQ(value, nlohmann::json::parse(doc.text)["key"].get<std::string>());
}

TEST(JsonScanTest, WalksElementsAndStopsWhenAsked) {
  ASSERT_OK_AND_ASSIGN(Value doc, Parse(R"([{"a":1},"x",[2],3,null])"));
  std::vector<Kind> kinds;
  ASSERT_OK(ForEachElement(doc, [&](Value v) {
    kinds.push_back(v.kind);
    return Status::Ok();
  }));
  EXPECT_EQ(kinds,
            (std::vector<Kind>{
                Kind::kObject, Kind::kString, Kind::kArray, Kind::kNumber, Kind::kNull}));
  int seen = 0;
  Status s = ForEachElement(doc, [&](Value) {
    return ++seen == 2 ? Status::NotFound("enough") : Status::Ok();
  });
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(
      ForEachMember(doc, [](std::string_view, Value) { return Status::Ok(); }).code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(KindName(Kind::kBool), "boolean");
}

TEST(JsonScanTest, ToInt64TakesIntegerLiteralsOnly) {
  auto number = [](std::string_view text) {
    return Parse(text).value();
  };
  EXPECT_EQ(ToInt64(number("-9223372036854775808")).value(), INT64_MIN);
  EXPECT_EQ(ToInt64(number("42")).value(), 42);
  EXPECT_FALSE(ToInt64(number("9223372036854775808")).ok());
  EXPECT_FALSE(ToInt64(number("1.0")).ok());
  EXPECT_FALSE(ToInt64(number("1e2")).ok());
  EXPECT_EQ(ToInt64(number("\"1\"")).status().message(),
            "expected an integer, got string");
}

// What AppendEscaped writes reads back as the same string, in the scanner and in the
// reference parser.
TEST(JsonScanTest, AppendEscapedRoundTrips) {
  std::string all_controls;
  for (int c = 1; c < 0x20; ++c)
    all_controls.push_back(static_cast<char>(c));
  for (std::string_view text :
       std::vector<std::string_view>{"",
                                     "plain",
                                     "q\"uo\\te/",
                                     "caf\xC3\xA9 \xF0\x9F\x98\x80",
                                     all_controls,
                                     std::string_view("nul\0byte", 8)}) {
    std::string literal = "\"";
    AppendEscaped(&literal, text);
    literal += '"';
    ASSERT_OK_AND_ASSIGN(Value v, Parse(literal));
    EXPECT_EQ(DecodeString(v), text) << literal;
    EXPECT_EQ(nlohmann::json::parse(literal).get<std::string>(), text) << literal;
  }
  std::string out = "x";
  AppendEscaped(&out, "\n\t\x01");
  EXPECT_EQ(out, "x\\n\\t\\u0001");
}

// Plain text is taken eight bytes at a time, so a byte that needs attention must be
// found wherever it falls: in the first or a later word, or in the bytes after them.
TEST(JsonScanTest, FindsSpecialBytesAtEveryPosition) {
  const std::string replacement = "\xEF\xBF\xBD";
  const std::vector<std::string> specials = {
      "\"", "\\", "\x01", "\x1F", std::string(1, '\0'), "\x7F", "\xC3\xA9", "\xFF"};
  for (std::size_t at = 0; at <= 24; ++at) {
    for (const std::string& special : specials) {
      const std::string text = std::string(at, 'a') + special + std::string(24 - at, 'b');
      SCOPED_TRACE("byte " + std::to_string(static_cast<unsigned char>(special[0])) +
                   " at " + std::to_string(at));
      const std::string raw = "\"" + text + "\"";
      EXPECT_EQ(IsValid(raw), nlohmann::json::accept(raw));
      std::string literal = "\"";
      AppendEscaped(&literal, text);
      literal += '"';
      ASSERT_OK_AND_ASSIGN(Value v, Parse(literal));
      const std::string expected =
          special == "\xFF"
              ? std::string(at, 'a') + replacement + std::string(24 - at, 'b')
              : text;
      EXPECT_EQ(DecodeString(v), expected);
      EXPECT_EQ(nlohmann::json::parse(literal).get<std::string>(), expected);
    }
  }
}

// Bytes that are not UTF-8 (a stray byte, a cut-off sequence, an overlong form, a
// surrogate) each become U+FFFD, so the literal is still valid JSON; good sequences
// around them are kept.
TEST(JsonScanTest, AppendEscapedReplacesBytesThatAreNotUtf8) {
  const std::string_view bad = "a\xFF\xC3\xA9\xC0\xAF\xED\xA0\x80z\xE2\x82";
  std::string literal = "\"";
  AppendEscaped(&literal, bad);
  literal += '"';
  ASSERT_OK_AND_ASSIGN(Value v, Parse(literal));
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(DecodeString(v), "a" + r + "\xC3\xA9" + r + r + r + r + r + "z" + r + r);
}

}  // namespace
}  // namespace tp::json_scan
