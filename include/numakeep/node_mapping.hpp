// SPDX-License-Identifier: MIT
// Kernel-exact node mapping: the operations the kernel uses to move a
// mempolicy from one cpuset's mems to another's, bit for bit as
// lib/bitmap.c (bitmap_remap, bitmap_bitremap, bitmap_onto, bitmap_fold)
// and mm/mempolicy.c (mpol_relative_nodemask) define them, over 1024-node
// masks (MAX_NUMNODES; the kernel's nodes_remap & co. pass MAX_NUMNODES as
// the bitmap size).
//
// Written from the definitions, not copied. Pure, constexpr, no allocation:
// the preload calls these with its lock held.
#pragma once

#include <cstdint>

#include "numakeep/nodemask.hpp"

namespace numakeep {

// bitmap_remap(dst, src, old, new): the n-th set node of `old_map` goes to
// the (n % w)-th set node of `new_map`, w = |new_map|; nodes of `src` that
// are not in `old_map` map to themselves; when `old_map` or `new_map` is
// empty the result is `src` (identity).
constexpr Nodemask remap(const Nodemask& src, const Nodemask& old_map, const Nodemask& new_map) {
    const unsigned w = new_map.count();
    if (w == 0) return src;
    // The nodes of new_map by position, so each mapped bit costs O(1).
    std::uint16_t targets[kMaxNodes] = {};
    unsigned k = 0;
    for (int n = new_map.first(); n >= 0; n = new_map.next(static_cast<unsigned>(n) + 1))
        targets[k++] = static_cast<std::uint16_t>(n);
    Nodemask dst = src - old_map;  // identity part
    unsigned ord = 0;
    for (int n = old_map.first(); n >= 0; n = old_map.next(static_cast<unsigned>(n) + 1), ++ord)
        if (src.test(static_cast<unsigned>(n))) dst.set(targets[ord % w]);
    return dst;
}

// bitmap_bitremap(oldbit, old, new): remap of one node. A node outside
// `old_map`, or an empty `new_map`, maps to itself. Negative nodes (no node)
// pass through unchanged.
constexpr int bitremap(int node, const Nodemask& old_map, const Nodemask& new_map) {
    if (node < 0) return node;
    const unsigned w = new_map.count();
    const int n = old_map.ord(static_cast<unsigned>(node));
    if (n < 0 || w == 0) return node;
    return new_map.nth(static_cast<unsigned>(n) % w);
}

// bitmap_onto(dst, orig, relmap): node n is set iff n is the m-th set node
// of `relmap` and bit m of `orig` is set. Bits of `orig` at or above
// |relmap| map nowhere.
constexpr Nodemask onto(const Nodemask& orig, const Nodemask& relmap) {
    Nodemask dst;
    unsigned m = 0;
    for (int n = relmap.first(); n >= 0; n = relmap.next(static_cast<unsigned>(n) + 1), ++m)
        if (orig.test(m)) dst.set(static_cast<unsigned>(n));
    return dst;
}

// bitmap_fold(dst, orig, sz): bit (b % sz) for every bit b of `orig`.
// sz == 0 is a division by zero in the kernel (its callers never pass it);
// here it gives the empty set.
constexpr Nodemask fold(const Nodemask& orig, unsigned sz) {
    Nodemask dst;
    if (sz == 0) return dst;
    if (sz >= kMaxNodes) return orig;
    for (int b = orig.first(); b >= 0; b = orig.next(static_cast<unsigned>(b) + 1))
        dst.set(static_cast<unsigned>(b) % sz);
    return dst;
}

// mpol_relative_nodemask(ret, orig, rel): `orig` read as positions inside
// `rel`, folded modulo |rel| first so that no position falls off the end:
// onto(fold(orig, |rel|), rel). Empty when `rel` is empty (see fold).
constexpr Nodemask relative_nodemask(const Nodemask& orig, const Nodemask& rel) {
    return onto(fold(orig, rel.count()), rel);
}

// The positions of `nodes` inside `within` (ord of each node of nodes∩within):
// the inverse of onto() for sets inside `within`. Used to express an
// absolute request as the relative mask the kernel would remap the same way.
constexpr Nodemask positions_in(const Nodemask& nodes, const Nodemask& within) {
    Nodemask pos;
    unsigned m = 0;
    for (int n = within.first(); n >= 0; n = within.next(static_cast<unsigned>(n) + 1), ++m)
        if (nodes.test(static_cast<unsigned>(n))) pos.set(m);
    return pos;
}

}  // namespace numakeep
