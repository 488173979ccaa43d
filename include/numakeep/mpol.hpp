// SPDX-License-Identifier: MIT
// The kernel's mempolicy numbers (include/uapi/linux/mempolicy.h), the one
// place numakeep spells them. Written out rather than taken from
// <numaif.h> or <linux/mempolicy.h>: the first is libnuma's (the preload
// interposes its functions and must not depend on its headers), the second
// clashes with <numaif.h> in the tests that use both, and neither names
// every value the kernels numakeep supports know (MPOL_WEIGHTED_INTERLEAVE
// is 6.9's).
#pragma once

namespace numakeep::mpol {

// Modes (enum in mempolicy.h); numakeep::Mode holds the same values.
inline constexpr int kDefault = 0;             // MPOL_DEFAULT
inline constexpr int kPreferred = 1;           // MPOL_PREFERRED
inline constexpr int kBind = 2;                // MPOL_BIND
inline constexpr int kInterleave = 3;          // MPOL_INTERLEAVE
inline constexpr int kLocal = 4;               // MPOL_LOCAL
inline constexpr int kPreferredMany = 5;       // MPOL_PREFERRED_MANY
inline constexpr int kWeightedInterleave = 6;  // MPOL_WEIGHTED_INTERLEAVE

// Mode flags, or'ed into the mode of set_mempolicy(2) and mbind(2).
inline constexpr unsigned kStaticNodes = 1U << 15;    // MPOL_F_STATIC_NODES
inline constexpr unsigned kRelativeNodes = 1U << 14;  // MPOL_F_RELATIVE_NODES
inline constexpr unsigned kNumaBalancing = 1U << 13;  // MPOL_F_NUMA_BALANCING
inline constexpr unsigned kModeFlags =                // MPOL_MODE_FLAGS
    kStaticNodes | kRelativeNodes | kNumaBalancing;

// get_mempolicy(2) flags.
inline constexpr unsigned long kGetNode = 1UL << 0;         // MPOL_F_NODE
inline constexpr unsigned long kGetAddr = 1UL << 1;         // MPOL_F_ADDR
inline constexpr unsigned long kGetMemsAllowed = 1UL << 2;  // MPOL_F_MEMS_ALLOWED

// mbind(2) and move_pages(2) flags.
inline constexpr unsigned kMfStrict = 1U << 0;   // MPOL_MF_STRICT
inline constexpr unsigned kMfMove = 1U << 1;     // MPOL_MF_MOVE
inline constexpr unsigned kMfMoveAll = 1U << 2;  // MPOL_MF_MOVE_ALL

}  // namespace numakeep::mpol
