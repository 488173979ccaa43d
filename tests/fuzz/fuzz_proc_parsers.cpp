// SPDX-License-Identifier: MIT
// Fuzz target: numakeepd's /proc and cgroupfs parsers (daemon/proc_parsers.hpp).
//
// Every input goes through every parser. Beyond "does not crash":
// - an accepted node list formats back to a list that parses to the same set;
// - a cgroup path from /proc/PID/cgroup is absolute, and lies within each of
//   its ancestors, the last of which is "/";
// - a stat comm is a substring of the input between '(' and the last ')';
// - a pid list holds only positive pids.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "numakeep/proc_stat.hpp"
#include "proc_parsers.hpp"

using namespace numakeep;
using namespace numakeep::daemon;

namespace {

void require(bool ok) {
    if (!ok) std::abort();  // libFuzzer reports the input; the replay test fails
}

void check_nodes(const std::optional<Nodemask>& nodes) {
    if (!nodes) return;
    char buf[kMaxNodes * 5];
    std::size_t n = nodes->format_into(buf, sizeof buf);
    auto again = parse_node_list(std::string_view(buf, n));
    require(again && *again == *nodes);
}

void check_cgroup_path(std::string_view cgroup) {
    auto chain = cgroup_and_ancestors(cgroup);
    require(!chain.empty());
    for (const auto& a : chain) require(cgroup_within(cgroup, a));
    require(chain.back() == "/");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);

    check_nodes(parse_node_list(text));
    check_nodes(parse_mems_allowed_list(text));

    if (auto cg = parse_proc_cgroup(text)) {
        require(!cg->empty() && cg->front() == '/');
        require(text.find(*cg) != std::string_view::npos);
        check_cgroup_path(*cg);
    }

    (void)stat_start_time(text);
    if (auto comm = parse_stat_comm(text)) {
        require(comm->size() < size);
        require(text.find("(" + *comm + ")") != std::string_view::npos);
    }

    if (auto pids = parse_pid_list(text))
        for (int pid : *pids) require(pid > 0);

    // The path helpers take any text a cgroup name could hold.
    if (!text.empty() && text.front() == '/') check_cgroup_path(text);
    for (const auto& a : cgroup_and_ancestors(text)) (void)cgroup_within(text, a);
    return 0;
}
