// SPDX-License-Identifier: MIT
// numakeep show [PID]: a process's task policies and recorded ranges,
// requested next to applied, with a mark where the kernel holds something
// other than what the rule gives now.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli_error.hpp"
#include "commands.hpp"
#include "daemon_client.hpp"
#include "entry_format.hpp"
#include "numakeep/policy.hpp"
#include "own_policy.hpp"
#include "placement_tally.hpp"
#include "table.hpp"

namespace numakeep::cli {
namespace {

int parse_pid(std::string_view text) {
    int pid = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || pid <= 0)
        throw CliError(ExitCode::Usage, "show: \"" + std::string(text) + "\" is not a process id",
                       "give a PID from `numakeep ps`, or none for numakeep's own policy");
    return pid;
}

// numakeep's own task policy, the way numactl --show prints it.
int show_self(bool json) {
    auto own = read_own_policy();
    if (!own)
        throw CliError(ExitCode::Usage,
                       std::string("show: get_mempolicy failed: ") + std::strerror(errno));
    Nodemask allowed = read_mems_allowed();
    int pid = static_cast<int>(getpid());
    std::uint16_t mode = mode_of(own->mode), flags = flags_of(own->mode);
    if (json) {
        JsonWriter j;
        j.begin_object();
        j.key("schema").value("numakeep.show/1");
        j.key("pid").value(pid);
        j.key("under_numakeep").value(false);
        j.key("task_policy").begin_object();
        j.key("mode").value(mode_text(mode, 0));
        j.key("flags").begin_array();
        if (flags & kFlagStaticNodes) j.value("static_nodes");
        if (flags & kFlagRelativeNodes) j.value("relative_nodes");
        if (flags & kFlagNumaBalancing) j.value("numa_balancing");
        j.end_array();
        j.key("nodes").value(own->nodes);
        j.end_object();
        j.key("mems_allowed").value(allowed);
        j.end_object();
        std::fputs(j.str().c_str(), stdout);
        return 0;
    }
    std::printf("policy: %s\n", mode_text(mode, flags).c_str());
    std::printf("nodes: %s\n", nodes_text(own->nodes).c_str());
    std::printf("mems allowed: %s\n", nodes_text(allowed).c_str());
    std::printf(
        "numakeep (pid %d) is not under numakeep: give a PID to see a process's records "
        "(`numakeep ps` lists them)\n",
        pid);
    return 0;
}

// Which marks the legend under the tables must explain.
struct Legend {
    bool differ = false, unread = false, assisted = false, unreachable = false, set = false;
};

std::string flags_cell(const proto::PolicyEntry& e) {
    std::string s = mode_text(0, e.flags);
    s = s.size() > 7 ? s.substr(8) : "";  // drop "default|"
    if (e.home_node >= 0)
        s += (s.empty() ? "" : ",") + std::string("home=") + std::to_string(e.home_node);
    return s.empty() ? "-" : s;
}

std::string rule_cell(const proto::PolicyEntry& e) {
    std::string s = nodes_text(e.rule_now);
    if (e.home_node >= 0 && e.rule_home_node >= 0) s += " home=" + std::to_string(e.rule_home_node);
    return s;
}

// The kernel's nodes now, then its mode when that is not the requested one
// (a foreign mbind), then the marks: "*" differs from the rule, "?" could
// not be read back, "U" unreachable (the thread blocks the rebind signal),
// "A" kernel-assisted.
std::string kernel_cell(const proto::PolicyEntry& e, Legend& legend) {
    std::string s;
    if (e.kernel_ok == proto::kKernelUnreachable) {
        legend.unreachable = true;
        s = "U";
    } else if (e.kernel_ok != proto::kKernelRead) {
        legend.unread = true;
        s = "?";
    } else {
        s = nodes_text(e.kernel_now);
        std::uint16_t kflags = flags_of(e.kernel_mode);
        // Kernel assistance adds MPOL_F_RELATIVE_NODES by design: the A says so.
        if (e.assisted) kflags &= static_cast<std::uint16_t>(~kFlagRelativeNodes);
        if (mode_of(e.kernel_mode) != e.mode || kflags != e.flags)
            s += " (" + mode_text(mode_of(e.kernel_mode), flags_of(e.kernel_mode)) + ")";
        if (entry_differs(e)) {
            s += " *";
            legend.differ = true;
        }
    }
    if (e.assisted) {
        s += " A";
        legend.assisted = true;
    }
    if (e.origin == proto::kOriginSet) {
        s += " S";
        legend.set = true;
    }
    return s;
}

std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

void write_counts_json(JsonWriter& j, const PlacementCounts& c) {
    j.key("placed").value(c.placed);
    j.key("to_move").value(c.to_move);
    j.key("absent").value(c.absent);
}

std::string pages_text(std::uint64_t pages) {
    return size_text(pages * 4096);
}

int show_process(int pid, bool json) {
    DaemonClient client(daemon_socket_path());
    ShowAnswer a = client.show(pid);
    const proto::StatusReply status = client.status();
    std::sort(a.ranges.begin(), a.ranges.end(),
              [](const auto& x, const auto& y) { return x.start < y.start; });
    const auto counts =
        count_placement(pid, a.ranges, a.process.mems_now, a.process.semantics);
    PlacementCounts total;
    bool counted = false;
    for (const auto& c : counts)
        if (c) {
            total += *c;
            counted = true;
        }
    std::sort(a.threads.begin(), a.threads.end(),
              [](const auto& x, const auto& y) { return x.tid < y.tid; });
    if (json) {
        JsonWriter j;
        j.begin_object();
        j.key("schema").value("numakeep.show/1");
        j.key("pid").value(pid);
        j.key("under_numakeep").value(true);
        j.key("process");
        write_process_json(j, a.process);
        j.key("threads").begin_array();
        for (const auto& t : a.threads) write_policy_json(j, t, false);
        j.end_array();
        j.key("ranges").begin_array();
        for (std::size_t i = 0; i < a.ranges.size(); ++i) {
            write_policy_json(j, a.ranges[i], true, false);
            j.key("placement");
            if (counts[i]) {
                j.begin_object();
                write_counts_json(j, *counts[i]);
                j.end_object();
            } else {
                j.null();
            }
            j.end_object();
        }
        j.end_array();
        j.key("placement").begin_object();
        j.key("enabled").value(status.placement != 0);
        j.key("rate_mib").value(status.placement_rate_mib);
        write_counts_json(j, total);
        j.end_object();
        j.key("truncated").value(a.truncated);
        j.end_object();
        std::fputs(j.str().c_str(), stdout);
        return 0;
    }
    const proto::ProcEntry& p = a.process;
    std::printf("pid %d (%s), semantics %s%s, generation %llu of %llu%s\n", p.pid,
                field_text(p.comm).c_str(), semantics_text(p.semantics).c_str(),
                p.kernel_assist ? " (kernel-assisted)" : "",
                static_cast<unsigned long long>(p.generation_applied),
                static_cast<unsigned long long>(p.generation_current),
                p.rebind_pending ? " (rebind pending)" : "");
    std::printf("cgroup: %s\n", field_text(p.cgroup).c_str());
    std::printf("mems now: %s\n", nodes_text(p.mems_now).c_str());
    if (p.last_rebind_unix_ms > 0) {
        int err = p.last_errno ? p.last_errno : p.last.first_errno;
        std::printf(
            "last rebind: %s, generation %llu, %.1f ms:\n  %u ranges re-bound, %u dropped, "
            "%u checked, %u threads, %u errors%s%s\n",
            ago_text(p.last_rebind_unix_ms, now_unix_ms()).c_str(),
            static_cast<unsigned long long>(p.last.generation),
            static_cast<double>(p.last.duration_ns) / 1e6, p.last.ranges_rebound,
            p.last.ranges_dropped, p.last.ranges_checked, p.last.threads_rebound, p.last.errors,
            err ? " " : "", errno_name(err).c_str());
    } else {
        std::printf("last rebind: never\n");
    }

    std::size_t width = terminal_width();
    const std::int64_t now = now_unix_ms();
    Legend legend;
    std::printf("\ntask policies:\n");
    if (a.threads.empty()) {
        std::printf("  none recorded\n");
    } else {
        Table t({{"TID", true},
                 {"MODE"},
                 {"FLAGS", false, true, 5},
                 {"REQUEST", false, true, 7},
                 {"MEMS@REQ", false, true, 8},
                 {"RULE", false, true, 6},
                 {"KERNEL", false, true, 8}});
        for (const auto& e : a.threads)
            t.add_row({std::to_string(e.tid), mode_text(e.mode, 0), flags_cell(e),
                       nodes_text(e.requested), nodes_text(e.mems_at_request), rule_cell(e),
                       kernel_cell(e, legend)});
        std::fputs(t.render(width).c_str(), stdout);
    }
    std::printf("\nranges:\n");
    if (a.ranges.empty()) {
        std::printf("  none recorded\n");
    } else {
        // The whole address range when it fits, else its start (SIZE gives the end).
        auto render = [&](bool whole) {
            Table t({{whole ? "ADDRESS RANGE" : "START"},
                     {"SIZE", true},
                     {"MODE"},
                     {"FLAGS", false, true, 5},
                     {"REQUEST", false, true, 7},
                     {"MEMS@REQ", false, true, 8},
                     {"RULE", false, true, 6},
                     {"KERNEL", false, true, 8}});
            for (const auto& e : a.ranges)
                t.add_row({whole ? hex(e.start) + "-" + hex(e.end) : hex(e.start),
                           size_text(e.end - e.start), mode_text(e.mode, 0), flags_cell(e),
                           nodes_text(e.requested), nodes_text(e.mems_at_request), rule_cell(e),
                           kernel_cell(e, legend)});
            return t.render(width);
        };
        std::string text = render(true);
        if (width > 0) {
            std::size_t widest = 0, pos = 0;
            while (pos < text.size()) {
                std::size_t nl = text.find('\n', pos);
                widest = std::max(widest, nl - pos);
                pos = nl + 1;
            }
            if (widest > width) text = render(false);
        }
        std::fputs(text.c_str(), stdout);
    }
    if (!a.ranges.empty()) {
        // Pages counted by the CLI itself, page by page (placement_tally.hpp).
        std::printf("\npages of the ranges (placement %s, %s):\n", status.placement ? "on" : "off",
                    status.placement_rate_mib
                        ? (std::to_string(status.placement_rate_mib) + " MiB/s").c_str()
                        : "no rate limit");
        Table t({{"START"}, {"SIZE", true}, {"ON INTENT", true}, {"TO MOVE", true},
                 {"ABSENT", true}});
        for (std::size_t i = 0; i < a.ranges.size(); ++i) {
            const auto& c = counts[i];
            t.add_row({hex(a.ranges[i].start), size_text(a.ranges[i].end - a.ranges[i].start),
                       on_intent_text(c), c ? pages_text(c->to_move) : "-",
                       c ? pages_text(c->absent) : "-"});
        }
        std::fputs(t.render(width).c_str(), stdout);
        if (counted)
            std::printf("  all ranges: %s on intent, %s to move\n",
                        on_intent_text(total).c_str(), pages_text(total.to_move).c_str());
        else
            std::printf("  (pages not counted: nothing to place, or the process's pages "
                        "cannot be read)\n");
    }
    std::printf("\nREQUEST   nodes as requested          MEMS@REQ  the mems when requested\n");
    std::printf("RULE      nodes the rule gives now    KERNEL    nodes the kernel holds now\n");
    if (a.truncated) std::printf("(the process stopped listing early: records are missing)\n");
    if (legend.differ) std::printf("*         the kernel's nodes differ from the rule's\n");
    if (legend.unread)
        std::printf("?         the process could not read the kernel's policy back\n");
    if (legend.unreachable)
        std::printf(
            "U         unreachable: the thread blocks numakeep's rebind signal (an inline\n"
            "          rt_sigprocmask); its policy is re-issued once it unblocks it\n");
    if (legend.assisted)
        std::printf(
            "A         kernel-assisted (MPOL_F_RELATIVE_NODES): the kernel keeps the intent\n");
    if (legend.set) {
        // Every other request is the program's own (its call, or a policy
        // it inherited at exec).
        std::printf("S         installed by `numakeep set`, not by the program:\n");
        for (const auto& e : a.threads)
            if (e.origin == proto::kOriginSet)
                std::printf("            thread %d: %s\n", e.tid, origin_text(e, now).c_str());
        for (const auto& e : a.ranges)
            if (e.origin == proto::kOriginSet)
                std::printf("            %s-%s: %s\n", hex(e.start).c_str(), hex(e.end).c_str(),
                            origin_text(e, now).c_str());
    }
    return 0;
}

}  // namespace

int cmd_show(int argc, char** argv) {
    ReadOptions o = parse_read_options(argc, argv, true);
    if (o.help) {
        std::fputs(kShowHelp, stdout);
        std::fputs(kExitCodesHelp, stdout);
        return 0;
    }
    if (!o.operand) return show_self(o.json);
    return show_process(parse_pid(o.operand), o.json);
}

}  // namespace numakeep::cli
