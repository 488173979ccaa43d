// SPDX-License-Identifier: MIT
// numakeep/mpol.hpp against the kernel's own header as this machine's
// kernel headers ship it (<linux/mempolicy.h>): the values numakeep
// spells must be the kernel's. A header without MPOL_WEIGHTED_INTERLEAVE
// (before 6.9) checks that one against the mode after MPOL_PREFERRED_MANY.
#include <doctest/doctest.h>
#include <linux/mempolicy.h>

#include "numakeep/mpol.hpp"
#include "numakeep/policy.hpp"

using namespace numakeep;

static_assert(mpol::kDefault == MPOL_DEFAULT);
static_assert(mpol::kPreferred == MPOL_PREFERRED);
static_assert(mpol::kBind == MPOL_BIND);
static_assert(mpol::kInterleave == MPOL_INTERLEAVE);
static_assert(mpol::kLocal == MPOL_LOCAL);
static_assert(mpol::kPreferredMany == MPOL_PREFERRED_MANY);
static_assert(mpol::kWeightedInterleave == MPOL_PREFERRED_MANY + 1);
static_assert(mpol::kStaticNodes == MPOL_F_STATIC_NODES);
static_assert(mpol::kRelativeNodes == MPOL_F_RELATIVE_NODES);
static_assert(mpol::kNumaBalancing == MPOL_F_NUMA_BALANCING);
static_assert(mpol::kModeFlags == MPOL_MODE_FLAGS);
static_assert(mpol::kGetNode == MPOL_F_NODE);
static_assert(mpol::kGetAddr == MPOL_F_ADDR);
static_assert(mpol::kGetMemsAllowed == MPOL_F_MEMS_ALLOWED);
static_assert(mpol::kMfStrict == MPOL_MF_STRICT);
static_assert(mpol::kMfMove == MPOL_MF_MOVE);
static_assert(mpol::kMfMoveAll == MPOL_MF_MOVE_ALL);

TEST_CASE("Mode and the mode flags are the kernel's numbers") {
    CHECK(static_cast<int>(Mode::Bind) == MPOL_BIND);
    CHECK(static_cast<int>(Mode::WeightedInterleave) == mpol::kWeightedInterleave);
    CHECK(kModeFlagsMask == MPOL_MODE_FLAGS);
}
