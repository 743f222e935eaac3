// A set of UUIDs in one flat array (open addressing, linear probing).
//
// The broker writer checks every published msg_uuid against a window of thousands of
// recent ones per partition, and inserts and erases each one twice. With
// std::unordered_set every insert was an allocation and every lookup a pointer chase
// through a node somewhere in a heap of millions of them: a tenth of the writer's CPU.
// Here a lookup reads one or two adjacent slots, and nothing allocates until the table
// grows.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tp/uuid.h"

namespace tp {

class UuidSet {
 public:
  bool contains(const Uuid& id) const {
    if (IsNil(id))
      return has_nil_;
    if (slots_.empty())
      return false;
    for (size_t i = Home(id);; i = Next(i)) {
      if (IsNil(slots_[i]))
        return false;
      if (Same(slots_[i], id))
        return true;
    }
  }

  // Returns false if `id` was already present.
  bool insert(const Uuid& id) {
    if (IsNil(id)) {
      const bool added = !has_nil_;
      has_nil_ = true;
      return added;
    }
    if ((stored_ + 1) * 2 > slots_.size())
      Grow();
    size_t i = Home(id);
    for (; !IsNil(slots_[i]); i = Next(i)) {
      if (Same(slots_[i], id))
        return false;
    }
    slots_[i] = id;
    ++stored_;
    return true;
  }

  // Returns false if `id` was not present.
  bool erase(const Uuid& id) {
    if (IsNil(id)) {
      const bool removed = has_nil_;
      has_nil_ = false;
      return removed;
    }
    if (slots_.empty())
      return false;
    size_t hole = Home(id);
    for (;; hole = Next(hole)) {
      if (IsNil(slots_[hole]))
        return false;
      if (Same(slots_[hole], id))
        break;
    }
    // Backward-shift deletion: move later members of the probe run into the hole when
    // the hole lies on their way from their home slot, so no lookup meets a gap early.
    const size_t mask = slots_.size() - 1;
    for (size_t j = Next(hole); !IsNil(slots_[j]); j = Next(j)) {
      const size_t home = Home(slots_[j]);
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = Uuid();
    --stored_;
    return true;
  }

  size_t size() const { return stored_ + (has_nil_ ? 1 : 0); }
  bool empty() const { return size() == 0; }

 private:
  // Two words instead of Uuid's byte-wise comparison, which compiles to a memcmp call:
  // the probes below compare in their innermost loop.
  struct Words {
    uint64_t hi;
    uint64_t lo;
  };
  static Words Load(const Uuid& id) {
    Words w;
    std::memcpy(&w.hi, id.bytes().data(), 8);
    std::memcpy(&w.lo, id.bytes().data() + 8, 8);
    return w;
  }
  static bool IsNil(const Uuid& id) {
    const Words w = Load(id);
    return (w.hi | w.lo) == 0;
  }
  static bool Same(const Uuid& a, const Uuid& b) {
    const Words x = Load(a);
    const Words y = Load(b);
    return x.hi == y.hi && x.lo == y.lo;
  }

  // Version-7 and version-4 UUIDs carry random bits in both halves; the multiply mixes
  // them so that sequential or crafted ids still spread over the table.
  size_t Home(const Uuid& id) const {
    const Words w = Load(id);
    uint64_t h = (w.hi ^ std::rotl(w.lo, 29)) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 32;
    return static_cast<size_t>(h) & (slots_.size() - 1);
  }
  size_t Next(size_t i) const { return (i + 1) & (slots_.size() - 1); }

  void Grow() {
    std::vector<Uuid> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, Uuid());
    stored_ = 0;
    for (const Uuid& id : old) {
      if (IsNil(id))
        continue;
      size_t i = Home(id);
      while (!IsNil(slots_[i]))
        i = Next(i);
      slots_[i] = id;
      ++stored_;
    }
  }

  std::vector<Uuid> slots_;  // nil marks a free slot; the nil UUID itself is has_nil_
  size_t stored_ = 0;        // members in slots_
  bool has_nil_ = false;
};

}  // namespace tp
