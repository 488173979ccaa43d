// SPDX-License-Identifier: MIT
// The respread (DESIGN.md, "Placement: the pages already held"): after a
// rebind, brings the pages the program already holds to where its intent
// puts them (include/numakeep/placement.hpp decides which node each page
// wants): every recorded range, and the private anonymous memory under an
// interleaved task policy (a program started by `numactl --interleave=all`
// has no range policy at all).
//
// Why the agent thread: it owns the records, move_pages(0, ...) on its own
// process needs no privilege (a daemon-side mover would need
// CAP_SYS_NICE for other users' processes and would have to parse their
// maps from outside), and between batches it can look at its daemon
// connection: a newer Rebind stops the respread at once (the newest change
// wins) and starts the next one from the mems it brings. The program's
// threads never wait for it: the record lock is held only to copy the
// ranges and to check, before each batch, that the range is still there.
//
// Bounded: chunks of a few PMD windows (kChunkPages), a rate limit in MiB/s (the page
// migration itself is done by the kernel in the agent's context, so the
// rate is what it costs the machine), pages the kernel refuses (pinned,
// shared with other processes, busy) are counted and not retried, memory
// that goes away under it (munmap, mremap, exit) is counted as gone:
// move_pages() reports such pages as -EFAULT/-ENOENT and never faults.
#pragma once

#include <cstdint>

#include "numakeep/nodemask.hpp"

namespace numakeep::preload {

inline constexpr std::uint32_t kDefaultPlacementRateMib = 256;

struct PlacementSettings {
    bool enabled = true;
    bool enabled_from_env = false;          // NUMAKEEP_PLACEMENT=0|1 wins over the daemon
    std::uint32_t rate_mib = kDefaultPlacementRateMib;  // 0: no limit
    bool rate_from_env = false;             // NUMAKEEP_PLACEMENT_RATE_MIB
};

// Read once by the runtime's initializer (read_environment()).
void read_placement_environment();
const PlacementSettings& placement_settings();

struct RespreadResult {
    std::uint64_t pages_moved = 0;    // moved to the node the intent gives
    std::uint64_t pages_skipped = 0;  // the kernel could not move them
    std::uint64_t pages_placed = 0;   // already where the intent wants them
    std::uint64_t pages_gone = 0;     // unmapped or remapped under the respread
    std::uint64_t duration_ns = 0;
    bool cancelled = false;           // stopped early: a newer change arrived
    bool ran = false;                 // there was anything to place
};

// Spreads the held pages for the mems `mems` (the last Rebind's). The
// daemon's switch and rate come with the Rebind (rate 0: the runtime's
// default); NUMAKEEP_PLACEMENT* win over them. `should_stop` is asked
// between batches and while pacing.
RespreadResult respread(const Nodemask& mems, bool daemon_enabled, std::uint32_t daemon_rate_mib,
                        bool (*should_stop)());

}  // namespace numakeep::preload
