// SPDX-License-Identifier: MIT
// The pure part of the runtime: how a successful call changes the records.
// No system calls, no locks; linked straight into the unit tests
// (tests/unit/preload) and used by intercepted_calls.cpp under the lock.
#pragma once

#include <cstdint>
#include <cstring>

#include "numakeep/policy.hpp"
#include "numakeep/range_store.hpp"
#include "numakeep/rebind.hpp"

namespace numakeep::preload {

inline constexpr std::uint64_t kPageSize = 4096;  // x86-64 / arm64-4k base pages

inline std::uint64_t page_round_up(std::uint64_t len) {
    return (len + kPageSize - 1) & ~(kPageSize - 1);
}

// mremap(2) flags (include/uapi/linux/mman.h), spelled here so the pure code
// needs no system header.
inline constexpr int kMremapMaymove = 1;
inline constexpr int kMremapFixed = 2;
inline constexpr int kMremapDontunmap = 4;

// The mode and flags of a call's mode argument, written into `out` with
// no home node (false, `out` untouched, for a mode the kernel does not know).
inline bool mode_from_call(int mode_arg, Request& out) {
    auto raw = static_cast<unsigned>(mode_arg);
    unsigned mode = raw & ~static_cast<unsigned>(kModeFlagsMask);
    if (mode >= kModeCount) return false;
    out.mode = static_cast<Mode>(mode);
    out.flags = static_cast<std::uint16_t>(raw & kModeFlagsMask);
    out.home_node = -1;
    return true;
}

// The nodes a caller passed as (mask, maxnode), as the kernel reads them
// (get_nodes(): maxnode-1 bits), written word by word over all of `m`:
// libnuma passes maxnode 1025 and a bit-by-bit copy would cost a
// microsecond on every call.
inline void nodes_from_user(const unsigned long* mask, unsigned long maxnode, Nodemask& m) {
    constexpr unsigned long kBits = sizeof(unsigned long) * 8;
    auto& words = m.words();
    if (mask && maxnode > kMaxNodes) {  // libnuma's calls: one fixed-size copy
        std::memcpy(words.data(), mask, sizeof words);
        return;
    }
    unsigned long w = 0;
    if (mask && maxnode > 1) {
        unsigned long bits = maxnode - 1;
        if (bits > kMaxNodes) bits = kMaxNodes;
        unsigned long full = bits / kBits;
        for (; w < full; ++w) words[w] = mask[w];
        if (bits % kBits) {
            words[w] = mask[w] & ((1UL << (bits % kBits)) - 1);
            ++w;
        }
    }
    for (; w < words.size(); ++w) words[w] = 0;
}
inline Nodemask nodes_from_user(const unsigned long* mask, unsigned long maxnode) {
    Nodemask m;
    nodes_from_user(mask, maxnode, m);
    return m;
}

// request_from_policy() of what the caller passed, decoded straight into
// `out` (every field written; nothing when the mode is not one): the
// interposed mbind's path, where two extra copies of a 1024-bit mask are a
// noticeable part of the runtime's cost.
inline bool request_from_call(int mode_arg, const unsigned long* mask, unsigned long maxnode,
                              Request& out) {
    if (!mode_from_call(mode_arg, out)) return false;
    nodes_from_user(mask, maxnode, out.nodes);
    return worth_recording(out);
}

// What a successful set_mempolicy (or a policy read back) asks us to
// remember; false when nothing needs remembering (worth_recording(),
// rebind.hpp).
inline bool request_from_policy(int mode_arg, const Nodemask& nodes, Request& out) {
    if (!mode_from_call(mode_arg, out)) return false;
    out.nodes = nodes;
    return worth_recording(out);
}

// A successful mbind over [start, start+len): the new request replaces every
// record it overlaps (mbind_range() splits vmas the same way), or forgets
// them when the new policy needs no remembering. Also drops home nodes: a
// fresh mbind carries none.
// False when the store could not get the memory it needed.
inline bool apply_mbind(RangeStore& store, std::uint64_t start, std::uint64_t len, bool remember,
                        const Recorded& rec) {
    std::uint64_t end = start + page_round_up(len);
    return remember ? store.set(start, end, rec) : store.punch(start, end);
}

// set_mempolicy_home_node(start, len, home): the kernel sets the home node
// on every vma of the range whose policy is BIND or PREFERRED_MANY
// (sys_set_mempolicy_home_node() refuses other modes). Our pieces of the
// range with such a request remember it.
inline void apply_home_node(RangeStore& store, std::uint64_t start, std::uint64_t len, int home) {
    std::uint64_t end = start + page_round_up(len);
    RangeStore::Range r;
    // One range at a time (set() may split and merge what a walk would be
    // standing on); nothing allocated beyond what set() itself needs.
    for (std::uint64_t at = start; at < end && store.first_in(at, end, r);) {
        std::uint64_t next = r.end < end ? r.end : end;
        Mode m = r.rec->request.mode;
        if ((m == Mode::Bind || m == Mode::PreferredMany) && r.rec->request.home_node != home) {
            Recorded rec = *r.rec;
            rec.request.home_node = home;
            store.set(r.start < at ? at : r.start, next, rec);
        }
        at = next;
    }
}

// A successful munmap (or shmdt of [start, start+len)): the kernel frees the
// vmas and their policies.
inline void apply_munmap(RangeStore& store, std::uint64_t start, std::uint64_t len) {
    store.punch(start, start + page_round_up(len));
}

// A successful mmap at `addr`: whatever was there (MAP_FIXED) is gone and the
// new mapping has the default policy.
inline void apply_mmap(RangeStore& store, std::uint64_t addr, std::uint64_t len) {
    store.punch(addr, addr + page_round_up(len));
}

// A successful mremap(old, old_len, new_len, flags[, new_addr]) that
// returned `result`: the store follows what mm/mremap.c did with the vmas
// and their policies (RangeStore::move: in-place shrink and growth, moves,
// MREMAP_DONTUNMAP keeping the old range, old_len 0 duplicating).
inline bool apply_mremap(RangeStore& store, std::uint64_t old, std::uint64_t old_len,
                         std::uint64_t new_len, int flags, std::uint64_t result) {
    return store.move(old, old_len, result, new_len, (flags & kMremapDontunmap) != 0);
}

}  // namespace numakeep::preload
