// SPDX-License-Identifier: MIT
// `numakeep show`'s placement columns: per recorded range, how many of its
// pages sit where the intent wants them now, and how many are still to
// move (include/numakeep/placement.hpp decides, as the respread does).
//
// Why the CLI reads the pages itself (move_pages(pid, ..., NULL, status)
// and /proc/PID/smaps) rather than the agent reporting them over the wire:
// the kernel is the truth at the moment of asking, while the agent's
// numbers end with its last respread (the program faults, frees and
// unmaps afterwards); querying costs the program nothing (no work in its
// agent, no frame on its connection), and needs no more privilege than
// `show` already assumes (reading another process's pages takes
// PTRACE_MODE_READ, the same as its smaps). A process we may not read gets
// no counts, not an error.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "numakeep/nodemask.hpp"
#include "numakeep/protocol.hpp"

namespace numakeep::cli {

struct PlacementCounts {
    std::uint64_t placed = 0;   // present, on the node the intent gives
    std::uint64_t to_move = 0;  // present elsewhere
    std::uint64_t absent = 0;   // not present (never touched, swapped out)
    PlacementCounts& operator+=(const PlacementCounts& o) {
        placed += o.placed;
        to_move += o.to_move;
        absent += o.absent;
        return *this;
    }
};

// One entry per range, in order; nullopt where there is nothing to place
// (default or local policy, `kernel` semantics, no nodes) or the pages
// could not be read.
std::vector<std::optional<PlacementCounts>> count_placement(
    int pid, const std::vector<proto::PolicyEntry>& ranges, const Nodemask& mems_now,
    std::uint8_t semantics);

// "98.5%" of present pages placed, "-" for none present or not counted.
std::string on_intent_text(const std::optional<PlacementCounts>& c);

}  // namespace numakeep::cli
