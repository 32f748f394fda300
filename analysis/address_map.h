#pragma once
// Values keyed by block address, for the passes that follow every live block of a trace: open addressing
// with linear probing in one array, so that an alloc or a free touches a cache line or two and never the
// heap (std::unordered_map allocates a node per entry, which dominated the analysis of long traces).
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace trainmem {

template <class Value>
class AddressMap {
 public:
  AddressMap() : slots_(kInitialSlots) {}

  size_t size() const { return size_; }

  // Inserts `value` at `address`; false, and the map unchanged, when the address is already there.
  bool try_emplace(uint64_t address, const Value& value) {
    if (address == kEmpty) {
      if (empty_key_value_) return false;
      empty_key_value_ = value;
      ++size_;
      return true;
    }
    if (2 * (size_ + 1) > slots_.size()) grow();
    size_t i = home(address);
    for (; slots_[i].address != kEmpty; i = next(i)) {
      if (slots_[i].address == address) return false;
    }
    slots_[i] = {address, value};
    ++size_;
    return true;
  }

  // The value at `address`, null when there is none. Valid until the next insertion or erasure.
  Value* find(uint64_t address) {
    if (address == kEmpty) return empty_key_value_ ? &*empty_key_value_ : nullptr;
    for (size_t i = home(address); slots_[i].address != kEmpty; i = next(i)) {
      if (slots_[i].address == address) return &slots_[i].value;
    }
    return nullptr;
  }

  // Starts loading the slot where a lookup of `address` begins, for a lookup shortly after.
  void prefetch(uint64_t address) const { __builtin_prefetch(&slots_[home(address)]); }

  // Removes `address`; false when it is not there.
  bool erase(uint64_t address) {
    if (address == kEmpty) {
      if (!empty_key_value_) return false;
      empty_key_value_.reset();
      --size_;
      return true;
    }
    size_t i = home(address);
    for (; slots_[i].address != address; i = next(i)) {
      if (slots_[i].address == kEmpty) return false;
    }
    // Backward-shift deletion: later entries of the same probe run move up, so no tombstones accumulate.
    for (size_t j = next(i);; j = next(j)) {
      if (slots_[j].address == kEmpty) break;
      const size_t want = home(slots_[j].address);
      // Entry j may fill the hole at i unless its home lies cyclically in (i, j].
      const bool home_after_hole = i <= j ? (i < want && want <= j) : (i < want || want <= j);
      if (!home_after_hole) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i].address = kEmpty;
    --size_;
    return true;
  }

  // Calls visit(address, value&) for every entry, in no particular order.
  template <class Visit>
  void for_each(Visit&& visit) {
    for (Slot& slot : slots_) {
      if (slot.address != kEmpty) visit(slot.address, slot.value);
    }
    if (empty_key_value_) visit(kEmpty, *empty_key_value_);
  }

 private:
  // Marks a free slot. A block at this address, which no allocator hands out, is kept aside.
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static constexpr size_t kInitialSlots = 1024;  // a power of two, as every size after it

  struct Slot {
    uint64_t address = kEmpty;
    Value value{};
  };

  // Fibonacci hashing: addresses are aligned, so their low bits say little; the product's high bits mix all.
  size_t home(uint64_t address) const {
    return static_cast<size_t>((address * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  size_t next(size_t i) const { return (i + 1) & (slots_.size() - 1); }

  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    --shift_;
    for (const Slot& slot : old) {
      if (slot.address == kEmpty) continue;
      size_t i = home(slot.address);
      while (slots_[i].address != kEmpty) i = next(i);
      slots_[i] = slot;
    }
  }

  std::vector<Slot> slots_;
  int shift_ = 64 - 10;  // 64 - log2(slots_.size())
  size_t size_ = 0;
  std::optional<Value> empty_key_value_;
};

}  // namespace trainmem
