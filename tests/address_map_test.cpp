// The analysis's address-keyed map against std::unordered_map, through growth, wrap-around probe runs and
// the one address it keeps aside.
#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

#include "analysis/address_map.h"

namespace trainmem {
namespace {

TEST(AddressMap, BehavesLikeAnUnorderedMap) {
  AddressMap<int64_t> map;
  std::unordered_map<uint64_t, int64_t> reference;
  std::mt19937_64 random(5);
  // Few distinct addresses, so that inserts hit present keys and erases hit probe runs, over several sizes.
  for (uint64_t distinct : {64u, 5000u, 300000u}) {
    const auto address = [&] {
      const uint64_t i = random() % distinct;
      return i == 0 ? ~uint64_t{0} : 0x7f0000000000 + i * 64;  // ~0 is the map's free-slot marker
    };
    for (int round = 0; round < 400000; ++round) {
      const uint64_t key = address();
      switch (random() % 3) {
        case 0: {
          const auto value = static_cast<int64_t>(random());
          EXPECT_EQ(map.try_emplace(key, value), reference.try_emplace(key, value).second);
          break;
        }
        case 1:
          EXPECT_EQ(map.erase(key), reference.erase(key) == 1);
          break;
        default: {
          const int64_t* found = map.find(key);
          const auto it = reference.find(key);
          ASSERT_EQ(found != nullptr, it != reference.end()) << key;
          if (found) {
            EXPECT_EQ(*found, it->second);
          }
        }
      }
      ASSERT_EQ(map.size(), reference.size());
    }
    size_t visited = 0;
    map.for_each([&](uint64_t key, int64_t& value) {
      ++visited;
      EXPECT_EQ(reference.at(key), value);
    });
    EXPECT_EQ(visited, reference.size());
  }
}

TEST(AddressMap, ValuesCanBeChangedInPlace) {
  AddressMap<int64_t> map;
  ASSERT_TRUE(map.try_emplace(0x1000, 1));
  *map.find(0x1000) = 7;
  map.for_each([](uint64_t, int64_t& value) { value *= 2; });
  EXPECT_EQ(*map.find(0x1000), 14);
  EXPECT_EQ(map.find(0x2000), nullptr);
}

}  // namespace
}  // namespace trainmem
