#include "tp/cpus.h"

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "tp/testing/testing.h"

namespace tp {
namespace {

TEST(CpuLimitTest, CgroupV2CpuMax) {
  EXPECT_EQ(CpuLimitFromCpuMax("max 100000"), std::nullopt);
  EXPECT_EQ(CpuLimitFromCpuMax("150000 100000\n"), 1.5);
  EXPECT_EQ(CpuLimitFromCpuMax("200000 100000"), 2.0);
  for (const char* bad : {"", "100000", "x 100000", "100000 0", "-5 100000", "1 2 3"})
    EXPECT_EQ(CpuLimitFromCpuMax(bad), std::nullopt) << bad;
}

TEST(CpuLimitTest, CgroupV1Cfs) {
  EXPECT_EQ(CpuLimitFromCfs("-1\n", "100000\n"), std::nullopt);
  EXPECT_EQ(CpuLimitFromCfs("50000", "100000"), 0.5);
  EXPECT_EQ(CpuLimitFromCfs("abc", "100000"), std::nullopt);
}

class AvailableCpusTest : public ::testing::Test {
 protected:
  void Write(const std::filesystem::path& rel, const std::string& text) {
    const auto path = dir_.path() / rel;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  int Cpus(int affinity) {
    return AvailableCpus(affinity, dir_.path() / "cgroup", dir_.path() / "sys");
  }
  TempDir dir_ = testing::MakeTempDir("cpus-");
};

TEST_F(AvailableCpusTest, NoCgroupInformationLeavesTheAffinityCount) {
  EXPECT_EQ(Cpus(8), 8);
  Write("cgroup", "0::/kubepods/pod1/c1\n");  // no cpu.max files anywhere
  EXPECT_EQ(Cpus(8), 8);
  EXPECT_EQ(Cpus(0), 1);
}

TEST_F(AvailableCpusTest, CgroupV2QuotaOfTheGroupOrAnAncestorCapsTheCount) {
  Write("cgroup", "0::/kubepods/pod1/c1\n");
  Write("sys/kubepods/pod1/c1/cpu.max", "max 100000\n");
  Write("sys/kubepods/pod1/cpu.max", "250000 100000\n");  // 2.5 CPUs: 3 threads
  Write("sys/kubepods/cpu.max", "max 100000\n");
  EXPECT_EQ(Cpus(16), 3);
  EXPECT_EQ(Cpus(2), 2);  // the affinity mask is narrower still
  Write("sys/kubepods/pod1/c1/cpu.max", "50000 100000\n");  // half a CPU: still 1
  EXPECT_EQ(Cpus(16), 1);
}

TEST_F(AvailableCpusTest, CgroupV1QuotaOfTheCpuControllerCapsTheCount) {
  Write("cgroup", "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n");
  Write("sys/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "400000\n");
  Write("sys/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(Cpus(64), 4);
  Write("sys/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
  EXPECT_EQ(Cpus(64), 64);
}

TEST(AvailableCpusOfThisProcessTest, IsBetweenOneAndTheMachinesCount) {
  const int cpus = AvailableCpus();
  EXPECT_GE(cpus, 1);
  if (std::thread::hardware_concurrency() > 0) {
    EXPECT_LE(cpus, static_cast<int>(std::thread::hardware_concurrency()));
  }
}

}  // namespace
}  // namespace tp
