// SPDX-License-Identifier: MIT
// How the demo prints: one table row per step with, for each policy, the
// nodes the kernel holds for the plain copy and for the numakeep copy.
#pragma once

#include <optional>
#include <string>

#include "demo_plan.hpp"
#include "observation.hpp"

namespace numakeep::demo {

// The nodes a policy read back from the kernel actually uses under `mems`:
// for a policy issued with MPOL_F_RELATIVE_NODES (numakeep's kernel assist)
// get_mempolicy returns the relative mask, which the kernel applies as
// mpol_relative_nodemask(mask, mems); for MPOL_F_STATIC_NODES, mask ∩ mems.
Nodemask effective_nodes(const guest::PolicyReadback& p, const Nodemask& mems);

// Whether policy `i` of an observation is what `want` says under `mems`.
bool matches(const Observation& o, std::size_t i, const Nodemask& want);

// "bind 0-1", the way a mismatch is reported.
std::string describe(const Observation& o, std::size_t i);

void print_legend(bool with_numakeep);
void print_header(bool with_numakeep);
// One row; `numakeep` empty in kernel-only mode.
void print_row(std::size_t step_no, const Step& step, const Observation& kernel,
               const std::optional<Observation>& numakeep, bool with_numakeep);

}  // namespace numakeep::demo
