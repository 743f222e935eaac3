#include "tp/uuid_set.h"

#include <random>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

namespace tp {
namespace {

Uuid FromNumbers(uint64_t hi, uint64_t lo) {
  std::array<uint8_t, 16> bytes{};
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    bytes[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  return Uuid(bytes);
}

TEST(UuidSetTest, InsertContainsErase) {
  UuidSet set;
  const Uuid a = Uuid::NewV7();
  const Uuid b = Uuid::NewV7();
  EXPECT_FALSE(set.contains(a));
  EXPECT_FALSE(set.erase(a));
  EXPECT_TRUE(set.insert(a));
  EXPECT_FALSE(set.insert(a));
  EXPECT_TRUE(set.contains(a));
  EXPECT_FALSE(set.contains(b));
  EXPECT_EQ(set.size(), 1u);
  EXPECT_TRUE(set.erase(a));
  EXPECT_FALSE(set.contains(a));
  EXPECT_TRUE(set.empty());
}

// The nil UUID is the table's free-slot marker, so it is kept apart: it must still
// behave as any other member.
TEST(UuidSetTest, NilUuidIsAnOrdinaryMember) {
  UuidSet set;
  const Uuid nil;
  EXPECT_FALSE(set.contains(nil));
  EXPECT_TRUE(set.insert(nil));
  EXPECT_FALSE(set.insert(nil));
  EXPECT_TRUE(set.contains(nil));
  EXPECT_EQ(set.size(), 1u);
  EXPECT_TRUE(set.insert(Uuid::NewV7()));
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.erase(nil));
  EXPECT_FALSE(set.contains(nil));
  EXPECT_FALSE(set.erase(nil));
  EXPECT_EQ(set.size(), 1u);
}

// Random inserts and erases against std::unordered_set, over ids drawn from a small pool
// (many repeats, erases of members and non-members) and with sequential ids, whose
// halves differ in few bits: long probe runs and backward shifts across the table's end
// get exercised.
TEST(UuidSetTest, AgreesWithUnorderedSetUnderRandomOperations) {
  for (const bool sequential : {false, true}) {
    std::mt19937_64 rng(sequential ? 7 : 11);
    std::vector<Uuid> pool;
    for (uint64_t i = 0; i < 3000; ++i)
      pool.push_back(sequential ? FromNumbers(0x0190000000000000ULL, i)
                                : FromNumbers(rng(), rng()));
    pool.push_back(Uuid());
    UuidSet set;
    std::unordered_set<Uuid> reference;
    for (int op = 0; op < 200000; ++op) {
      const Uuid& id = pool[rng() % pool.size()];
      switch (rng() % 3) {
        case 0:
          ASSERT_EQ(set.insert(id), reference.insert(id).second) << "op " << op;
          break;
        case 1:
          ASSERT_EQ(set.erase(id), reference.erase(id) == 1) << "op " << op;
          break;
        default:
          ASSERT_EQ(set.contains(id), reference.contains(id)) << "op " << op;
      }
      ASSERT_EQ(set.size(), reference.size()) << "op " << op;
    }
    for (const Uuid& id : pool)
      ASSERT_EQ(set.contains(id), reference.contains(id));
  }
}

}  // namespace
}  // namespace tp
