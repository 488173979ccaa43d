// SPDX-License-Identifier: MIT
#include "placement_report.hpp"

#include <spdlog/spdlog.h>

namespace numakeep::daemon {

void report_placement(Process& p, const proto::PlacementDone& done, Counters& counters) {
    ++counters.respreads;
    counters.pages_moved += done.pages_moved;
    counters.pages_skipped += done.pages_skipped;
    p.placement = done;
    const double seconds = static_cast<double>(done.duration_ns) / 1e9;
    auto level = done.pages_skipped ? spdlog::level::warn : spdlog::level::info;
    spdlog::log(level,
                "respread pid {} ({}) cgroup {} generation {}: {} pages moved, {} skipped, {} "
                "already placed, {} gone, {:.3f} s",
                p.pid, p.comm, p.cgroup, done.generation, done.pages_moved, done.pages_skipped,
                done.pages_placed, done.pages_gone, seconds);
}

}  // namespace numakeep::daemon
