// SPDX-License-Identifier: MIT
#include "workload.hpp"

#include <numaif.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "demo_plan.hpp"
#include "guest.hpp"
#include "line_pipe.hpp"
#include "observation.hpp"

namespace numakeep::demo {
namespace {

// The workload's memory: the interleaved range first, then one 1 MiB range
// per other mbind()-ed policy. Separate mappings, so no two ranges can ever
// merge into one VMA.
struct Ranges {
    std::array<void*, kTaskPolicy> start{};
    std::array<std::size_t, kTaskPolicy> bytes{};
};

// Asks for every policy the way numactl or libnuma would: mbind and
// set_mempolicy from <numaif.h>, no mode flags.
bool request_policies(Ranges& ranges) {
    for (std::size_t i = 0; i < kTaskPolicy; ++i) {
        ranges.bytes[i] = i == kInterleaved ? kInterleavedBytes : kRangeBytes;
        ranges.start[i] = ::mmap(nullptr, ranges.bytes[i], PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (ranges.start[i] == MAP_FAILED) {
            std::perror("numakeep-demo workload: mmap");
            return false;
        }
        const PolicySpec& spec = plan().policies[i];
        if (::mbind(ranges.start[i], ranges.bytes[i], static_cast<int>(spec.mode),
                    spec.request.kernel_data(), Nodemask::kKernelMaxnode, 0) != 0) {
            std::fprintf(stderr, "numakeep-demo workload: mbind %s: %s\n", spec.title.c_str(),
                         std::strerror(errno));
            return false;
        }
    }
    const PolicySpec& task = plan().policies[kTaskPolicy];
    if (::set_mempolicy(static_cast<int>(task.mode), task.request.kernel_data(),
                        Nodemask::kKernelMaxnode) != 0) {
        std::fprintf(stderr, "numakeep-demo workload: set_mempolicy %s: %s\n", task.title.c_str(),
                     std::strerror(errno));
        return false;
    }
    return true;
}

// Everything read with an inline syscall (guest.hpp): the kernel's answer,
// not what an interposed get_mempolicy would say.
Observation observe(const Ranges& ranges) {
    Observation o;
    for (std::size_t i = 0; i < kTaskPolicy; ++i)
        o.policies[i] = guest::range_policy(ranges.start[i]).value_or(guest::PolicyReadback{});
    o.policies[kTaskPolicy] = guest::thread_policy().value_or(guest::PolicyReadback{});
    o.mems_allowed = guest::mems_allowed();
    return o;
}

PageSplit fault_interleaved(const Ranges& ranges) {
    void* start = ranges.start[kInterleaved];
    const std::size_t bytes = ranges.bytes[kInterleaved];
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    auto* p = static_cast<volatile char*>(start);
    for (std::size_t off = 0; off < bytes; off += page) p[off] = 1;
    PageSplit split;
    if (auto counts = guest::pages_per_node(start, bytes)) {
        for (std::size_t n = 0; n < plan().nodes.size(); ++n)
            split.per_node[n] = counts->on(plan().nodes[n]);
        split.not_present = counts->not_present;
    }
    ::madvise(start, bytes, MADV_DONTNEED);
    return split;
}

}  // namespace

int run_workload() {
    // Started inside the demo's cgroup, whose mems are the plan's nodes.
    if (!set_plan(guest::mems_allowed())) {
        std::fprintf(stderr, "numakeep-demo workload: fewer than two nodes allowed\n");
        return 1;
    }
    Ranges ranges;
    if (!request_policies(ranges)) return 1;
    if (!write_line(STDOUT_FILENO, "ready")) return 1;
    LineReader in(STDIN_FILENO);
    while (auto command = in.next()) {
        std::string answer;
        if (*command == "report")
            answer = format(observe(ranges));
        else if (*command == "fault")
            answer = format(fault_interleaved(ranges));
        else
            answer = "E unknown command '" + *command + "'";
        if (!write_line(STDOUT_FILENO, answer)) return 1;
    }
    return 0;
}

}  // namespace numakeep::demo
