// SPDX-License-Identifier: MIT
// numakeep ps: every process numakeepd knows, one line each.
#include <algorithm>
#include <cstdio>

#include "commands.hpp"
#include "daemon_client.hpp"
#include "entry_format.hpp"
#include "table.hpp"

namespace numakeep::cli {
namespace {

std::string last_rebind_text(const proto::ProcEntry& p, std::int64_t now_ms) {
    if (p.last_rebind_unix_ms <= 0) return "never";
    std::string s = ago_text(p.last_rebind_unix_ms, now_ms) + ", ";
    int err = p.last_errno ? p.last_errno : p.last.first_errno;
    if (err || p.last.errors)
        return s + (err ? errno_name(err) : "errors") + " x" +
               std::to_string(std::max(p.last.errors, 1U));
    char ms[32];
    std::snprintf(ms, sizeof ms, "ok %.1fms", static_cast<double>(p.last.duration_ns) / 1e6);
    return s + ms;
}

}  // namespace

int cmd_ps(int argc, char** argv) {
    ReadOptions o = parse_read_options(argc, argv, false);
    if (o.help) {
        std::fputs(kPsHelp, stdout);
        std::fputs(kExitCodesHelp, stdout);
        return 0;
    }
    DaemonClient client(daemon_socket_path());
    auto procs = client.list();
    std::sort(procs.begin(), procs.end(),
              [](const auto& a, const auto& b) { return a.pid < b.pid; });

    if (o.json) {
        JsonWriter j;
        j.begin_object();
        j.key("schema").value("numakeep.ps/1");
        j.key("processes").begin_array();
        for (const auto& p : procs) write_process_json(j, p);
        j.end_array();
        j.end_object();
        std::fputs(j.str().c_str(), stdout);
        return 0;
    }
    Table t({{"PID", true},
             {"COMMAND", false, true, 6},
             {"CGROUP", false, true, 6},
             {"MEMS", false, true, 4},
             {"STATE"},
             {"RANGES", true},
             {"THREADS", true},
             {"LAST REBIND", false, true, 6}});
    std::int64_t now = now_unix_ms();
    for (const auto& p : procs) {
        // Generations are opaque counters: say where the process stands.
        std::string state = p.rebind_pending                               ? "pending"
                            : p.generation_applied == p.generation_current ? "current"
                                                                           : "behind";
        t.add_row({std::to_string(p.pid), field_text(p.comm), field_text(p.cgroup),
                   nodes_text(p.mems_now), state, std::to_string(p.ranges),
                   std::to_string(p.threads), last_rebind_text(p, now)});
    }
    if (t.empty()) {
        std::puts("no process is under numakeep (start one with `numakeep run -- COMMAND`)");
        return 0;
    }
    std::fputs(t.render(terminal_width()).c_str(), stdout);
    return 0;
}

}  // namespace numakeep::cli
