// SPDX-License-Identifier: MIT
// kernel-lossy-rebind: puts the kernel's own rebind of flag-less policies on
// record (DESIGN.md, "The problem, measured"), so this suite fails loudly the
// day a kernel changes it.
//
// Four 1 MiB ranges are mbind()-ed without mode flags (interleave 0-3,
// bind 0-3, preferred 3, preferred_many 2-3) and the task policy is set to
// interleave 0-3, in a cgroup with cpuset.mems 0-3. Then cpuset.mems is
// written 0-1, 0-3, 2-3, 0-3, 1, 0-3; after each write every policy is read
// back with get_mempolicy and compared with the table. Raw syscalls only, so
// it measures the kernel even when run under libnumakeep.so.
//
// The kernel paths measured: cpuset_write_resmask -> update_nodemasks_hier
// -> update_tasks_nodemask -> cpuset_change_task_nodemask (task policy,
// mpol_rebind_task) and mpol_rebind_mm (every VMA policy), which for
// interleave and bind is mpol_rebind_nodemask (bitmap_remap of the current
// nodes from the old mems to the new) and for the preferred modes is
// mpol_rebind_preferred (records the mems, never moves the nodes).
#include <array>
#include <cstdio>
#include <string>

#include "guest.hpp"

namespace {

using numakeep::Mode;
using numakeep::Nodemask;
namespace guest = numakeep::guest;

constexpr std::size_t kRangeBytes = 1 << 20;

struct Column {
    const char* title;
    Mode mode;
    Nodemask request;
};
// The four ranges in DESIGN.md's column order, then the task policy.
const std::array<Column, 5> kColumns = {{
    {"interleave 0-3", Mode::Interleave, Nodemask::range(0, 3)},
    {"bind 0-3", Mode::Bind, Nodemask::range(0, 3)},
    {"preferred 3", Mode::Preferred, Nodemask{3}},
    {"preferred_many 2-3", Mode::PreferredMany, Nodemask::range(2, 3)},
    {"task interleave 0-3", Mode::Interleave, Nodemask::range(0, 3)},
}};

struct Step {
    const char* label;
    Nodemask mems;
    std::array<Nodemask, 5> want;  // the kernel's nodes, per column
};
Nodemask r(unsigned a, unsigned b) {
    return Nodemask::range(a, b);
}
Nodemask n(unsigned a) {
    return Nodemask{a};
}
// DESIGN.md's first table; the task policy follows the interleave range.
const std::array<Step, 7> kSteps = {{
    {"0-3 (start)", r(0, 3), {{r(0, 3), r(0, 3), n(3), r(2, 3), r(0, 3)}}},
    {"0-1", r(0, 1), {{r(0, 1), r(0, 1), n(3), r(2, 3), r(0, 1)}}},
    {"0-3", r(0, 3), {{r(0, 1), r(0, 1), n(3), r(2, 3), r(0, 1)}}},
    {"2-3", r(2, 3), {{r(2, 3), r(2, 3), n(3), r(2, 3), r(2, 3)}}},
    {"0-3", r(0, 3), {{r(0, 1), r(0, 1), n(3), r(2, 3), r(0, 1)}}},
    {"1", n(1), {{n(1), n(1), n(3), r(2, 3), n(1)}}},
    {"0-3", r(0, 3), {{n(0), n(0), n(3), r(2, 3), n(0)}}},
}};

// A cell: the nodes read back, a note when the node is outside the mems,
// and the expectation when it differs.
std::string cell(const std::optional<guest::PolicyReadback>& got, const Column& col,
                 const Nodemask& want, const Nodemask& mems) {
    if (!got) return "error";
    std::string s = got->nodes.to_string();
    if (got->mode != col.mode || got->flags != 0) s = guest::to_string(*got);
    if (!got->nodes.subset_of(mems)) s += " (not allowed)";
    if (got->mode != col.mode || got->flags != 0 || got->nodes != want)
        s += " [want " + want.to_string() + "]";
    return s;
}

void print_row(const std::array<std::string, 6>& cells) {
    std::printf("| %-11s | %-14s | %-14s | %-15s | %-22s | %-19s |\n", cells[0].c_str(),
                cells[1].c_str(), cells[2].c_str(), cells[3].c_str(), cells[4].c_str(),
                cells[5].c_str());
}

}  // namespace

int main() {
    guest::Report report;
    if (guest::mems_allowed() != Nodemask::range(0, 3))
        guest::skip("needs the 4-node guest (Mems_allowed_list is not 0-3)");

    guest::Cgroup cgroup("kernel-lossy-rebind", Nodemask::range(0, 3));
    cgroup.add();

    guest::Mapping area(kRangeBytes * 4);
    auto range = [&](std::size_t i) { return static_cast<char*>(area.data()) + i * kRangeBytes; };
    for (std::size_t i = 0; i < 4; ++i) {
        const Column& col = kColumns[i];
        if (guest::sys_mbind(range(i), kRangeBytes, static_cast<int>(col.mode), col.request) != 0)
            guest::die((std::string("mbind ") + col.title).c_str());
    }
    if (guest::sys_set_mempolicy(static_cast<int>(Mode::Interleave), kColumns[4].request) != 0)
        guest::die("set_mempolicy interleave 0-3");

    std::printf("The kernel's rebind of policies set without mode flags (DESIGN.md):\n\n");
    print_row({"cpuset.mems", kColumns[0].title, kColumns[1].title, kColumns[2].title,
               kColumns[3].title, kColumns[4].title});
    print_row({"---", "---", "---", "---", "---", "---"});

    // Read everything back at the instant of each write; the checks come
    // after the table so that it reads as one piece.
    struct Observed {
        std::array<std::optional<guest::PolicyReadback>, 5> policies;
        Nodemask mems_allowed;
    };
    std::array<Observed, kSteps.size()> seen;
    for (std::size_t s = 0; s < kSteps.size(); ++s) {
        const Step& step = kSteps[s];
        if (s > 0) cgroup.set_mems(step.mems);
        for (std::size_t i = 0; i < 4; ++i) seen[s].policies[i] = guest::range_policy(range(i));
        seen[s].policies[4] = guest::thread_policy();
        seen[s].mems_allowed = guest::mems_allowed();

        std::array<std::string, 6> cells;
        cells[0] = step.label;
        for (std::size_t i = 0; i < 5; ++i)
            cells[i + 1] = cell(seen[s].policies[i], kColumns[i], step.want[i], step.mems);
        print_row(cells);
    }
    std::printf("\n");

    for (std::size_t s = 0; s < kSteps.size(); ++s) {
        const Step& step = kSteps[s];
        std::string at = "step " + std::to_string(s) + " (mems " + step.label + "): ";
        report.expect_nodes(at + "Mems_allowed_list", seen[s].mems_allowed, step.mems);
        for (std::size_t i = 0; i < 5; ++i)
            report.expect_policy(at + kColumns[i].title, seen[s].policies[i],
                                 {kColumns[i].mode, 0, step.want[i]});
    }
    return report.finish();
}
