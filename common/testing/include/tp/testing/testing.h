// Test helpers shared by every test binary.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tp/status.h"
#include "tp/temp_dir.h"

#define ASSERT_OK(expr)                                           \
  do {                                                            \
    const ::tp::Status tp_s_ = (expr);                            \
    ASSERT_TRUE(tp_s_.ok()) << #expr << ": " << tp_s_.ToString(); \
  } while (false)

#define EXPECT_OK(expr)                                           \
  do {                                                            \
    const ::tp::Status tp_s_ = (expr);                            \
    EXPECT_TRUE(tp_s_.ok()) << #expr << ": " << tp_s_.ToString(); \
  } while (false)

#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(TP_CONCAT_(tp_r_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)                   \
  auto tmp = (expr);                                                 \
  ASSERT_TRUE(tmp.ok()) << #expr << ": " << tmp.status().ToString(); \
  lhs = std::move(tmp).value()

namespace tp::testing {

// A TempDir for the current test; fails the test if it cannot be made.
TempDir MakeTempDir(const std::string& prefix = "tp-test-");

// Directory holding the project's built binaries (build/bin), from TP_BIN_DIR set by
// CMake on every test, or next to the test executable.
std::filesystem::path BinDir();

// Runs `argv` to completion, capturing stdout and stderr (merged into out/err).
struct ProcessOutput {
  int exit_code = -1;
  std::string out;
  std::string err;
};
ProcessOutput RunProcess(const std::vector<std::string>& argv);

// A loopback TCP port that was free a moment ago (bind port 0, read it, release it), for
// processes that take their listen address as a flag.
int FreeLoopbackPort();

// CTest names each parameterized case after what PrintTo prints (gtest_discover_tests),
// so tables print this: short, stable and free of characters CTest or shells mind.
std::string TestLabel(std::string_view text);

}  // namespace tp::testing
