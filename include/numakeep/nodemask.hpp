// SPDX-License-Identifier: MIT
// Nodemask: a set of NUMA node ids, 0..kMaxNodes-1, as the kernel sees them.
//
// Pure, allocation-free (except to_string), usable inside the preload with
// -fno-exceptions. The kernel-ABI conversion lives here because every
// component passes these sets to mbind/set_mempolicy/get_mempolicy.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace numakeep {

// Debian's kernel is built with CONFIG_NODES_SHIFT=10: MAX_NUMNODES 1024.
inline constexpr unsigned kMaxNodes = 1024;
inline constexpr unsigned kWordBits = 64;
inline constexpr unsigned kWords = kMaxNodes / kWordBits;

class Nodemask {
  public:
    constexpr Nodemask() = default;
    constexpr Nodemask(std::initializer_list<unsigned> nodes) {
        for (unsigned n : nodes) set(n);
    }
    // Nodes first..last inclusive; empty when first > last.
    static constexpr Nodemask range(unsigned first, unsigned last) {
        Nodemask m;
        for (unsigned n = first; n <= last && n < kMaxNodes; ++n) m.set(n);
        return m;
    }
    static constexpr Nodemask all() { return range(0, kMaxNodes - 1); }

    constexpr bool test(unsigned n) const {
        return n < kMaxNodes && ((words_[n / kWordBits] >> (n % kWordBits)) & 1U);
    }
    constexpr void set(unsigned n) {
        if (n < kMaxNodes) words_[n / kWordBits] |= std::uint64_t{1} << (n % kWordBits);
    }
    constexpr void reset(unsigned n) {
        if (n < kMaxNodes) words_[n / kWordBits] &= ~(std::uint64_t{1} << (n % kWordBits));
    }
    constexpr void clear() { words_ = {}; }

    constexpr unsigned count() const {
        unsigned c = 0;
        for (auto w : words_) c += static_cast<unsigned>(std::popcount(w));
        return c;
    }
    constexpr bool empty() const {
        for (auto w : words_)
            if (w) return false;
        return true;
    }
    // First set node >= from, or -1.
    constexpr int next(unsigned from) const {
        for (unsigned i = from / kWordBits; i < kWords; ++i) {
            std::uint64_t w = words_[i];
            if (i == from / kWordBits) w &= ~std::uint64_t{0} << (from % kWordBits);
            if (w) return static_cast<int>(i * kWordBits + std::countr_zero(w));
        }
        return -1;
    }
    constexpr int first() const { return next(0); }
    constexpr int last() const {
        for (unsigned i = kWords; i-- > 0;)
            if (words_[i])
                return static_cast<int>(i * kWordBits + 63 - std::countl_zero(words_[i]));
        return -1;
    }
    // The node at position ord (0-based) among the set nodes, or -1
    // (the kernel's find_nth_bit, as bitmap_remap uses it).
    constexpr int nth(unsigned ord) const {
        for (unsigned i = 0; i < kWords; ++i) {
            std::uint64_t w = words_[i];
            unsigned c = static_cast<unsigned>(std::popcount(w));
            if (ord >= c) {
                ord -= c;
                continue;
            }
            while (ord--) w &= w - 1;  // drop the lowest set bits before it
            return static_cast<int>(i * kWordBits + std::countr_zero(w));
        }
        return -1;
    }
    // Position of node n among the set nodes, or -1 when n is not set
    // (the kernel's bitmap_pos_to_ord).
    constexpr int ord(unsigned n) const {
        if (!test(n)) return -1;
        unsigned pos = 0;
        for (unsigned i = 0; i < n / kWordBits; ++i)
            pos += static_cast<unsigned>(std::popcount(words_[i]));
        std::uint64_t below = (std::uint64_t{1} << (n % kWordBits)) - 1;
        pos += static_cast<unsigned>(std::popcount(words_[n / kWordBits] & below));
        return static_cast<int>(pos);
    }
    constexpr bool subset_of(const Nodemask& o) const {
        for (unsigned i = 0; i < kWords; ++i)
            if (words_[i] & ~o.words_[i]) return false;
        return true;
    }
    constexpr bool intersects(const Nodemask& o) const {
        for (unsigned i = 0; i < kWords; ++i)
            if (words_[i] & o.words_[i]) return true;
        return false;
    }

    constexpr Nodemask& operator&=(const Nodemask& o) {
        for (unsigned i = 0; i < kWords; ++i) words_[i] &= o.words_[i];
        return *this;
    }
    constexpr Nodemask& operator|=(const Nodemask& o) {
        for (unsigned i = 0; i < kWords; ++i) words_[i] |= o.words_[i];
        return *this;
    }
    constexpr Nodemask& operator-=(const Nodemask& o) {
        for (unsigned i = 0; i < kWords; ++i) words_[i] &= ~o.words_[i];
        return *this;
    }
    friend constexpr Nodemask operator&(Nodemask a, const Nodemask& b) { return a &= b; }
    friend constexpr Nodemask operator|(Nodemask a, const Nodemask& b) { return a |= b; }
    friend constexpr Nodemask operator-(Nodemask a, const Nodemask& b) { return a -= b; }
    constexpr Nodemask operator~() const {
        Nodemask r;
        for (unsigned i = 0; i < kWords; ++i) r.words_[i] = ~words_[i];
        return r;
    }
    friend constexpr bool operator==(const Nodemask&, const Nodemask&) = default;

    constexpr const std::array<std::uint64_t, kWords>& words() const { return words_; }
    constexpr std::array<std::uint64_t, kWords>& words() { return words_; }

    // --- kernel ABI -------------------------------------------------------
    // mbind/set_mempolicy read maxnode-1 bits (get_nodes() in mm/mempolicy.c
    // does "--maxnode"), and get_mempolicy needs maxnode >= nr_node_ids.
    // kKernelMaxnode is what we pass: all 1024 bits, plus the one the kernel
    // drops.
    static constexpr unsigned long kKernelMaxnode = kMaxNodes + 1;

    // Reads the nodes a caller passed as (nodemask, maxnode): bits
    // 0..maxnode-2, exactly what the kernel reads. Bits beyond kMaxNodes are
    // ignored here; the kernel rejects them if set (callers keep the real
    // call's verdict). A null mask or maxnode <= 1 is the empty set.
    static Nodemask from_kernel(const unsigned long* mask, unsigned long maxnode) {
        Nodemask m;
        if (!mask || maxnode <= 1) return m;
        unsigned long bits = maxnode - 1;
        if (bits > kMaxNodes) bits = kMaxNodes;
        constexpr unsigned long ulbits = sizeof(unsigned long) * 8;
        for (unsigned long b = 0; b < bits; ++b)
            if ((mask[b / ulbits] >> (b % ulbits)) & 1UL) m.set(static_cast<unsigned>(b));
        return m;
    }
    // Reads a mask get_mempolicy filled in: all maxnode bits are valid there.
    static Nodemask from_kernel_result(const unsigned long* mask, unsigned long maxnode) {
        return from_kernel(mask, maxnode + 1);
    }
    // Writes this set as a kernel mask buffer of kWords words; pass
    // kKernelMaxnode as maxnode.
    void to_kernel(unsigned long* out) const {
        static_assert(sizeof(unsigned long) == sizeof(std::uint64_t));
        for (unsigned i = 0; i < kWords; ++i) out[i] = words_[i];
    }
    // Writes this set the way get_mempolicy hands a mask back
    // (copy_nodes_to_user() in mm/mempolicy.c): the words holding bits
    // 0..maxnode-2, zero beyond kMaxNodes. Returns the number of words
    // written; 0 when maxnode <= 1. The caller has checked maxnode as the
    // kernel does (>= nr_node_ids, at most a page of bits).
    std::size_t to_kernel(unsigned long* out, unsigned long maxnode) const {
        if (!out || maxnode <= 1) return 0;
        constexpr unsigned long ulbits = sizeof(unsigned long) * 8;
        std::size_t n = (maxnode - 1 + ulbits - 1) / ulbits;
        for (std::size_t i = 0; i < n; ++i) out[i] = i < kWords ? words_[i] : 0;
        return n;
    }
    const unsigned long* kernel_data() const {
        static_assert(sizeof(unsigned long) == sizeof(std::uint64_t));
        return reinterpret_cast<const unsigned long*>(words_.data());
    }
    unsigned long* kernel_data() { return reinterpret_cast<unsigned long*>(words_.data()); }

    // "0-3,7"; "" for the empty set. Allocates: not for the preload's
    // interposed paths (use format_into there).
    std::string to_string() const {
        char buf[kMaxNodes * 5];
        std::size_t n = format_into(buf, sizeof buf);
        return std::string(buf, n);
    }
    // Formats into a fixed buffer without allocating; returns the length
    // written (truncated to cap-1, always NUL-terminated when cap > 0).
    std::size_t format_into(char* buf, std::size_t cap) const {
        std::size_t len = 0;
        auto put = [&](char c) {
            if (len + 1 < cap) buf[len++] = c;
        };
        auto put_num = [&](unsigned v) {
            char tmp[8];
            int k = 0;
            do {
                tmp[k++] = static_cast<char>('0' + v % 10);
                v /= 10;
            } while (v);
            while (k) put(tmp[--k]);
        };
        bool sep = false;
        for (int n = first(); n >= 0;) {
            unsigned lo = static_cast<unsigned>(n), hi = lo;
            while (hi + 1 < kMaxNodes && test(hi + 1)) ++hi;
            if (sep) put(',');
            put_num(lo);
            if (hi != lo) {
                put('-');
                put_num(hi);
            }
            sep = true;
            n = hi + 1 < kMaxNodes ? next(hi + 1) : -1;
        }
        if (cap) buf[len] = '\0';
        return len;
    }

  private:
    std::array<std::uint64_t, kWords> words_{};
};

static_assert(sizeof(Nodemask) == kMaxNodes / 8);

}  // namespace numakeep
