// SPDX-License-Identifier: MIT
#include "driver.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "demo_plan.hpp"
#include "guest.hpp"
#include "numakeep_config.h"
#include "observation.hpp"
#include "processes.hpp"
#include "table_output.hpp"

namespace numakeep::demo {
namespace {

using std::chrono::milliseconds;

// How long the numakeep copy may take to show a step's rebind: the daemon
// sees the write (inotify), tells the agent, the agent re-issues.
constexpr milliseconds kConvergence{2000};

const char* kCgroupName = "numakeep-demo";
const char* kDaemonLog = "/tmp/numakeepd.log";

std::optional<Observation> report(WorkloadCopy& copy) {
    auto line = copy.ask("report");
    if (!line) return std::nullopt;
    return parse_observation(*line);
}

bool all_match(const Observation& o, const Step& step) {
    for (std::size_t i = 0; i < kPolicyCount; ++i)
        if (!matches(o, i, step.rule[i])) return false;
    return true;
}

// Polls the numakeep copy until it shows the rule or kConvergence passes;
// returns the last observation.
std::optional<Observation> converged_report(WorkloadCopy& copy, const Step& step) {
    std::optional<Observation> last;
    guest::wait_until(
        [&] {
            last = report(copy);
            return last && all_match(*last, step);
        },
        kConvergence);
    return last;
}

// The first policy of `o` that differs from the rule at `step`, described.
std::string first_difference(const Observation& o, const Step& step) {
    for (std::size_t i = 0; i < kPolicyCount; ++i)
        if (!matches(o, i, step.rule[i]))
            return plan().policies[i].title + " is " + describe(o, i) + ", want " +
                   step.rule[i].to_string() + " (cpuset.mems " + step.mems.to_string() + ")";
    return "";
}

void print_page_split(const PageSplit& kernel, const std::optional<PageSplit>& numakeep) {
    const auto& steps = plan().steps;
    std::printf(
        "\nWhere a fresh 64 MiB faulted in the interleaved range landed after the "
        "shrink-and-grow\n(cpuset.mems %s -> %s -> %s), pages per node (move_pages):\n",
        steps[0].mems.to_string().c_str(), steps[1].mems.to_string().c_str(),
        steps[kShrinkAndGrowStep].mems.to_string().c_str());
    const std::size_t nodes = plan().nodes.size();
    std::printf("%-12s", "");
    for (std::size_t n = 0; n < nodes; ++n)
        std::printf(" %8s", ("node" + std::to_string(plan().nodes[n])).c_str());
    std::printf("\n");
    auto row = [nodes](const char* who, const PageSplit& g) {
        std::printf("%-12s", who);
        for (std::size_t n = 0; n < nodes; ++n) std::printf(" %8lu", g.per_node[n]);
        std::printf("   on %u node%s\n", g.nodes_used(), g.nodes_used() == 1 ? "" : "s");
    };
    row("kernel only", kernel);
    if (numakeep) row("numakeep", *numakeep);
    // Machine-readable copy for tools/demo's chart (it filters these out).
    for (std::size_t n = 0; n < nodes; ++n) {
        if (numakeep)
            std::printf("@chart node%u %lu %lu\n", plan().nodes[n], kernel.per_node[n],
                        numakeep->per_node[n]);
        else
            std::printf("@chart node%u %lu\n", plan().nodes[n], kernel.per_node[n]);
    }
}

}  // namespace

int run_demo(const DemoOptions& options) {
    if (::geteuid() != 0) {
        std::fprintf(stderr, "numakeep-demo: needs root (it creates a cgroup)\n");
        return 2;
    }
    // DESIGN.md's nodes 0-3 mapped onto the nodes this cpuset allows (the
    // guest's 0-3 as they are).
    if (!set_plan(guest::mems_allowed())) {
        std::fprintf(stderr,
                     "numakeep-demo: needs two or more NUMA nodes in this cpuset, it allows %s "
                     "(run it through tools/demo, which boots the 4-node guest)\n",
                     guest::mems_allowed().to_string().c_str());
        return 2;
    }

    // numakeep's side: the daemon and the preload, when this build has both.
    const char* preload_env = std::getenv("NUMAKEEP_PRELOAD");
    std::string preload = preload_env ? preload_env : NUMAKEEP_PRELOAD_PATH;
    std::string daemon_path = find_on_path("numakeepd");
    bool with_numakeep =
        !options.kernel_only && !daemon_path.empty() && ::access(preload.c_str(), R_OK) == 0;
    Daemon daemon;
    if (!options.kernel_only && !with_numakeep)
        std::printf("numakeepd or libnumakeep.so is not in this build yet: the kernel alone.\n");
    if (with_numakeep) {
        const char* socket_env = std::getenv("NUMAKEEP_SOCKET");
        std::string socket = socket_env ? socket_env : NUMAKEEP_SOCKET_PATH;
        if (!daemon.start(daemon_path, socket, kDaemonLog, milliseconds(5000))) {
            std::fprintf(stderr, "numakeep-demo: numakeepd did not start: %s\n",
                         daemon.error().c_str());
            return 1;
        }
    }

    // Both copies live in one cgroup whose mems start at 0-3; the driver
    // joins it first so that the copies are born inside.
    guest::Cgroup cgroup(kCgroupName, plan().steps[0].mems);
    cgroup.add();
    WorkloadCopy kernel_copy("kernel", "");
    std::unique_ptr<WorkloadCopy> numakeep_copy;
    if (with_numakeep) numakeep_copy = std::make_unique<WorkloadCopy>("numakeep", preload);
    for (WorkloadCopy* copy : {&kernel_copy, numakeep_copy.get()}) {
        if (copy && !copy->wait_ready(milliseconds(10000))) {
            std::fprintf(stderr, "numakeep-demo: the %s workload did not start\n",
                         copy->label().c_str());
            return 1;
        }
    }

    std::printf(
        "A workload holds four ranges mbind()-ed without flags and an interleaved task\n"
        "policy, %s;\nthe cpuset.mems of their cgroup is written in turn.\n",
        with_numakeep ? "one copy plain and one under libnumakeep.so with numakeepd"
                      : "run plain (the kernel alone)");
    print_legend(with_numakeep);
    print_header(with_numakeep);

    int differed_at = -1;
    std::string difference;
    std::string kernel_lost;
    PageSplit kernel_pages;
    std::optional<PageSplit> numakeep_pages;
    for (std::size_t s = 0; s < plan().steps.size(); ++s) {
        const Step& step = plan().steps[s];
        if (s > 0) cgroup.set_mems(step.mems);
        auto kernel = report(kernel_copy);
        if (!kernel) {
            std::fprintf(stderr, "numakeep-demo: the kernel workload stopped answering\n");
            return 1;
        }
        std::optional<Observation> numakeep;
        if (numakeep_copy) numakeep = converged_report(*numakeep_copy, step);
        print_row(s, step, *kernel, numakeep, with_numakeep);

        if (!all_match(*kernel, step))
            kernel_lost += (kernel_lost.empty() ? "" : ", ") + std::to_string(s);
        if (with_numakeep && differed_at < 0 && (!numakeep || !all_match(*numakeep, step))) {
            differed_at = static_cast<int>(s);
            difference = numakeep ? first_difference(*numakeep, step) : "no answer";
        }
        if (s == kShrinkAndGrowStep) {
            auto g = kernel_copy.ask("fault");
            kernel_pages = g ? parse_page_split(*g).value_or(PageSplit{}) : PageSplit{};
            if (numakeep_copy)
                if (auto n = numakeep_copy->ask("fault")) numakeep_pages = parse_page_split(*n);
        }
    }

    std::printf("\nthe kernel alone differed from the rule at step%s %s\n",
                kernel_lost.find(',') == std::string::npos ? "" : "s",
                kernel_lost.empty() ? "none" : kernel_lost.c_str());
    if (with_numakeep) {
        if (differed_at < 0)
            std::printf("numakeep matched the rule at every step\n");
        else
            std::printf("numakeep differed from the rule at step %d: %s\n", differed_at,
                        difference.c_str());
    }
    print_page_split(kernel_pages, numakeep_pages);
    std::fflush(stdout);
    return with_numakeep && differed_at >= 0 ? 1 : 0;
}

}  // namespace numakeep::demo
