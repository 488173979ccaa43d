// SPDX-License-Identifier: MIT
#include "placement_tally.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "../../preload/maps_line.hpp"
#include "numakeep/placement.hpp"
#include "numakeep/policy.hpp"

namespace numakeep::cli {
namespace {

using preload::MapsEntry;
constexpr std::size_t kQueryPages = 4096;
constexpr std::uint64_t kWindow = placement::kPageSize << placement::kThpOrder;
constexpr std::size_t kWindowPages = std::size_t{1} << placement::kThpOrder;

placement::IndexWidth index_width() {
    utsname u{};
    if (uname(&u) != 0) return placement::IndexWidth::Bits64;
    return placement::index_width_for_release(u.release);
}

// The weighted interleave table (6.9+), 0 where a node has none.
void read_weights(std::uint8_t (&w)[kMaxNodes]) {
    for (unsigned n = 0; n < kMaxNodes; ++n) w[n] = 0;
    for (unsigned n = 0; n < 64; ++n) {
        std::ifstream f("/sys/kernel/mm/mempolicy/weighted_interleave/node" + std::to_string(n));
        unsigned v = 0;
        if (f >> v) w[n] = static_cast<std::uint8_t>(v);
    }
}

// The vmas from /proc/PID/smaps, and whether each holds any THP
// (AnonHugePages above 0), as the mover reads its own (page_mover.cpp).
bool read_maps(int pid, std::string& text, std::vector<MapsEntry>& out, std::vector<bool>& huge) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/smaps");
    if (!f) return false;
    std::ostringstream ss;
    ss << f.rdbuf();
    text = ss.str();
    preload::parse_smaps(text, out, huge);
    return true;
}

// Counts [s, e) of one vma the way the mover judges it
// (preload/page_mover.cpp): a whole PMD window on one node of an
// anonymous vma holding THPs is taken as one, judged by its order-9 index.
bool count_part(int pid, const placement::Intent& in, const MapsEntry& m, bool huge,
                std::uint64_t s, std::uint64_t e, PlacementCounts& c) {
    const std::uint64_t pgoff =
        m.inode == 0 ? placement::anonymous_pgoff(m.start) : m.offset >> placement::kPageShift;
    std::vector<void*> pages(kQueryPages);
    std::vector<int> where(kQueryPages);
    for (std::uint64_t a = s; a < e;) {
        // Chunks start on window boundaries so a window is never cut.
        std::uint64_t chunk_end = (a & ~(kWindow - 1)) + kQueryPages * placement::kPageSize;
        if (chunk_end > e) chunk_end = e;
        const std::size_t n = static_cast<std::size_t>((chunk_end - a) / placement::kPageSize);
        for (std::size_t i = 0; i < n; ++i)
            pages[i] = reinterpret_cast<void*>(a + i * placement::kPageSize);
        if (syscall(SYS_move_pages, pid, n, pages.data(), nullptr, where.data(), 0) != 0)
            return false;
        for (std::size_t i = 0; i < n;) {
            const std::uint64_t addr = a + i * placement::kPageSize;
            const bool window_start = (addr & (kWindow - 1)) == 0 && i + kWindowPages <= n;
            bool thp = huge && window_start && m.inode == 0 && !m.shared && where[i] >= 0;
            for (std::size_t k = 1; thp && k < kWindowPages; ++k) thp = where[i + k] == where[i];
            if (thp) {
                const int t = placement::target_node_at(in, pgoff, m.start, addr,
                                                        placement::kThpOrder, where[i]);
                for (std::size_t k = 0; k < kWindowPages; ++k) {
                    if (t < 0)
                        ++c.placed;
                    else
                        ++c.to_move;
                }
                i += kWindowPages;
                continue;
            }
            if (where[i] < 0) {
                ++c.absent;
            } else if (placement::target_node_at(in, pgoff, m.start, addr, 0, where[i]) < 0) {
                ++c.placed;
            } else {
                ++c.to_move;
            }
            ++i;
        }
        a = chunk_end;
    }
    return true;
}

}  // namespace

std::vector<std::optional<PlacementCounts>> count_placement(
    int pid, const std::vector<proto::PolicyEntry>& ranges, const Nodemask& mems_now,
    std::uint8_t semantics) {
    std::vector<std::optional<PlacementCounts>> out(ranges.size());
    std::string text;
    std::vector<MapsEntry> maps;
    std::vector<bool> huge;
    if (ranges.empty() || !read_maps(pid, text, maps, huge)) return out;
    static std::uint8_t weights[kMaxNodes];
    read_weights(weights);
    const placement::IndexWidth width = index_width();
    for (std::size_t r = 0; r < ranges.size(); ++r) {
        const proto::PolicyEntry& e = ranges[r];
        const auto mode = static_cast<Mode>(e.mode);
        if (mode == Mode::Default || mode == Mode::Local || mode > Mode::WeightedInterleave)
            continue;
        // `kernel` semantics: the respread leaves such ranges to the
        // kernel's own rule (placement::intent_of()), so there is no intent
        // to count against.
        const bool own = (e.flags & (kFlagStaticNodes | kFlagRelativeNodes)) != 0;
        if (semantics == static_cast<std::uint8_t>(Semantics::Kernel) && !own) continue;
        placement::Intent in;
        in.mode = mode;
        in.nodes = e.rule_now & mems_now;
        in.weights = weights;
        in.width = width;
        if (in.nodes.empty()) continue;
        PlacementCounts c;
        bool ok = true;
        for (std::size_t v = 0; v < maps.size(); ++v) {
            const MapsEntry& m = maps[v];
            if (m.end <= e.start || m.start >= e.end) continue;
            const std::uint64_t s = m.start > e.start ? m.start : e.start;
            const std::uint64_t end = m.end < e.end ? m.end : e.end;
            if (!count_part(pid, in, m, huge[v], s, end, c)) {
                ok = false;
                break;
            }
        }
        if (ok) out[r] = c;
    }
    return out;
}

std::string on_intent_text(const std::optional<PlacementCounts>& c) {
    if (!c || c->placed + c->to_move == 0) return "-";
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.1f%%",
                  100.0 * static_cast<double>(c->placed) /
                      static_cast<double>(c->placed + c->to_move));
    return buf;
}

}  // namespace numakeep::cli
