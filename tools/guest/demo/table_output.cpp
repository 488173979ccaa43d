// SPDX-License-Identifier: MIT
#include "table_output.hpp"

#include <cstdio>
#include <cstring>

#include "numakeep/node_mapping.hpp"

namespace numakeep::demo {

namespace {
constexpr int kCellWidth = 9;  // one copy's nodes
constexpr int kStepWidth = 14;

// nodes, then '*' when a node lies outside the cpuset, '!' when the
// policy differs from the rule, '^' when the kernel keeps it relative.
std::string cell(const Observation& o, std::size_t i, const Step& step) {
    const auto& p = o.policies[i];
    std::string s;
    if (p.mode != plan().policies[i].mode)
        s = std::string(to_string(p.mode));
    else
        s = effective_nodes(p, o.mems_allowed).to_string();
    if (!effective_nodes(p, o.mems_allowed).subset_of(step.mems)) s += '*';
    if (!matches(o, i, step.rule[i])) s += '!';
    if (p.flags & kFlagRelativeNodes) s += '^';
    return s;
}
// A policy's columns are as wide as its title, or its cells if wider.
int group_width(std::size_t i, bool with_numakeep) {
    const int cells = with_numakeep ? 2 * kCellWidth + 1 : kCellWidth;
    const int title = static_cast<int>(plan().policies[i].title.size());
    return title > cells ? title : cells;
}
}  // namespace

Nodemask effective_nodes(const guest::PolicyReadback& p, const Nodemask& mems) {
    if (p.flags & kFlagRelativeNodes) return relative_nodemask(p.nodes, mems);
    if (p.flags & kFlagStaticNodes) {
        Nodemask m = p.nodes & mems;
        return m.empty() ? p.nodes : m;
    }
    return p.nodes;
}

bool matches(const Observation& o, std::size_t i, const Nodemask& want) {
    const auto& p = o.policies[i];
    return p.mode == plan().policies[i].mode && effective_nodes(p, o.mems_allowed) == want;
}

std::string describe(const Observation& o, std::size_t i) {
    const auto& p = o.policies[i];
    std::string s(to_string(p.mode));
    if (p.mode == Mode::Default || p.mode == Mode::Local) return s;
    return s + ' ' + effective_nodes(p, o.mems_allowed).to_string();
}

void print_legend(bool with_numakeep) {
    std::printf(
        "Nodes each policy holds, read back from the kernel with get_mempolicy after each\n"
        "write of cpuset.mems.  *: a node outside cpuset.mems   !: differs from the rule%s\n\n",
        with_numakeep
            ? "\n^: kept by the kernel as MPOL_F_RELATIVE_NODES (numakeep's kernel assist)"
            : "");
}

void print_header(bool with_numakeep) {
    std::printf("%-*s", kStepWidth, "");
    for (std::size_t i = 0; i < kPolicyCount; ++i)
        std::printf(" | %-*s", group_width(i, with_numakeep), plan().policies[i].title.c_str());
    std::printf("\n%-*s", kStepWidth, "step mems");
    for (std::size_t i = 0; i < kPolicyCount; ++i) {
        if (with_numakeep)
            std::printf(" | %-*s %-*s", kCellWidth, "kernel",
                        group_width(i, with_numakeep) - kCellWidth - 1, "numakeep");
        else
            std::printf(" | %-*s", group_width(i, with_numakeep), "kernel");
    }
    std::printf("\n");
}

void print_row(std::size_t step_no, const Step& step, const Observation& kernel,
               const std::optional<Observation>& numakeep, bool with_numakeep) {
    std::string head = std::to_string(step_no) + "    " + step.mems.to_string();
    if (step_no == 0) head += " start";
    std::printf("%-*s", kStepWidth, head.c_str());
    for (std::size_t i = 0; i < kPolicyCount; ++i) {
        const int group = group_width(i, with_numakeep);
        if (with_numakeep)
            std::printf(" | %-*s %-*s", kCellWidth, cell(kernel, i, step).c_str(),
                        group - kCellWidth - 1, numakeep ? cell(*numakeep, i, step).c_str() : "?");
        else
            std::printf(" | %-*s", group, cell(kernel, i, step).c_str());
    }
    std::printf("\n");
    std::fflush(stdout);
}

}  // namespace numakeep::demo
