#include "tp/cli.h"

#include <cstdlib>

#include <gtest/gtest.h>

namespace tp {
namespace {

TEST(CliTest, EnvNameForFlag) {
  EXPECT_EQ(EnvNameForFlag("--data-dir"), "DATA_DIR");
  EXPECT_EQ(EnvNameForFlag("listen"), "LISTEN");
}

TEST(CliTest, FlagWinsOverEnvironment) {
  ::setenv("TP_CLI_TEST_VALUE", "from-env", 1);
  ::setenv("TP_CLI_TEST_OTHER", "env-only", 1);
  CLI::App app;
  std::string value;
  std::string other;
  app.add_option("--tp-cli-test-value", value);
  app.add_option("--tp-cli-test-other", other);
  BindEnvironment(app);
  std::vector<std::string> args = {"--tp-cli-test-value", "from-flag"};
  std::reverse(args.begin(), args.end());
  app.parse(args);
  EXPECT_EQ(value, "from-flag");
  EXPECT_EQ(other, "env-only");
  ::unsetenv("TP_CLI_TEST_VALUE");
  ::unsetenv("TP_CLI_TEST_OTHER");
}

TEST(CliTest, LogFlagsRejectBadValues) {
  LogFlags flags;
  flags.level = "loud";
  EXPECT_EQ(flags.ToOptions().status().code(), StatusCode::kInvalidArgument);
  flags.level = "debug";
  EXPECT_TRUE(flags.ToOptions().ok());
}

}  // namespace
}  // namespace tp
