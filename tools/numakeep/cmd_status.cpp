// SPDX-License-Identifier: MIT
// numakeep status: numakeepd's configuration in force, counters, uptime.
#include <cstdio>

#include "commands.hpp"
#include "daemon_client.hpp"
#include "entry_format.hpp"
#include "numakeep_config.h"

namespace numakeep::cli {
namespace {

std::string uptime_text(std::uint64_t ms) {
    std::uint64_t s = ms / 1000;
    char buf[64];
    if (s < 60)
        std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(s));
    else if (s < 3600)
        std::snprintf(buf, sizeof buf, "%llum %llus", static_cast<unsigned long long>(s / 60),
                      static_cast<unsigned long long>(s % 60));
    else
        std::snprintf(buf, sizeof buf, "%lluh %llum", static_cast<unsigned long long>(s / 3600),
                      static_cast<unsigned long long>(s / 60 % 60));
    return buf;
}

}  // namespace

int cmd_status(int argc, char** argv) {
    ReadOptions o = parse_read_options(argc, argv, false);
    if (o.help) {
        std::fputs(kStatusHelp, stdout);
        std::fputs(kExitCodesHelp, stdout);
        return 0;
    }
    DaemonClient client(daemon_socket_path());
    proto::StatusReply s = client.status();
    std::string socket = field_text(s.socket_path);
    if (socket.empty()) socket = client.socket_path();

    if (o.json) {
        JsonWriter j;
        j.begin_object();
        j.key("schema").value("numakeep.status/1");
        j.key("daemon").begin_object();
        j.key("pid").value(s.daemon_pid);
        j.key("version").value(field_text(s.version));
        j.key("uptime_ms").value(s.uptime_ms);
        j.key("socket").value(socket);
        j.key("config_path").value(field_text(s.config_path));
        j.end_object();
        j.key("config").begin_object();
        j.key("default_semantics").value(semantics_text(s.default_semantics));
        j.key("placement").value(s.placement != 0);
        j.key("placement_rate_mib").value(s.placement_rate_mib);
        j.key("kernel_assist").value(s.kernel_assist != 0);
        j.key("reconcile_ms").value(s.reconcile_ms);
        j.key("rebind_timeout_ms").value(s.rebind_timeout_ms);
        j.key("max_conns_per_uid").value(s.max_conns_per_uid);
        j.key("max_concurrency").value(s.max_concurrency);
        j.key("log_level").value(log_level_text(s.log_level));
        j.end_object();
        j.key("counters").begin_object();
        j.key("processes").value(s.processes);
        j.key("ranges").value(s.ranges);
        j.key("threads").value(s.threads);
        j.key("mems_writes").value(s.mems_writes);
        j.key("rebinds_requested").value(s.rebinds_requested);
        j.key("rebinds").value(s.rebinds);
        j.key("ranges_rebound").value(s.ranges_rebound);
        j.key("ranges_dropped").value(s.ranges_dropped);
        j.key("errors").value(s.errors);
        j.key("timeouts").value(s.timeouts);
        j.key("dropped_clients").value(s.dropped_clients);
        j.key("respreads").value(s.respreads);
        j.key("pages_moved").value(s.pages_moved);
        j.key("pages_skipped").value(s.pages_skipped);
        j.key("sets").value(s.sets);
        j.end_object();
        j.key("cli_version").value(NUMAKEEP_VERSION);
        j.end_object();
        std::fputs(j.str().c_str(), stdout);
        return 0;
    }
    auto yes_no = [](std::uint8_t b) { return b ? "yes" : "no"; };
    auto u64 = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    std::printf("numakeepd %s, pid %u, up %s\n", field_text(s.version).c_str(), s.daemon_pid,
                uptime_text(s.uptime_ms).c_str());
    std::printf("socket:        %s\n", socket.c_str());
    std::string conf = field_text(s.config_path);
    std::printf("configuration: %s\n", conf.empty() ? "(built-in defaults)" : conf.c_str());
    std::printf("  default semantics     %s\n", semantics_text(s.default_semantics).c_str());
    std::printf("  placement             %s, %u MiB/s%s\n", yes_no(s.placement),
                s.placement_rate_mib, s.placement_rate_mib ? "" : " (no limit)");
    std::printf("  kernel assistance     %s\n", yes_no(s.kernel_assist));
    std::printf("  reconcile period      %u ms\n", s.reconcile_ms);
    std::printf("  rebind timeout        %u ms\n", s.rebind_timeout_ms);
    std::printf("  connections per uid   %u\n", s.max_conns_per_uid);
    std::printf("  rebind concurrency    %u\n", s.max_concurrency);
    std::printf("  log level             %s\n", log_level_text(s.log_level).c_str());
    std::printf("counters:\n");
    std::printf("  processes             %u\n", s.processes);
    std::printf("  ranges                %llu\n", u64(s.ranges));
    std::printf("  threads               %llu\n", u64(s.threads));
    std::printf("  mems writes seen      %llu\n", u64(s.mems_writes));
    std::printf("  rebinds requested     %llu\n", u64(s.rebinds_requested));
    std::printf("  rebinds               %llu\n", u64(s.rebinds));
    std::printf("  ranges re-bound       %llu\n", u64(s.ranges_rebound));
    std::printf("  ranges dropped        %llu\n", u64(s.ranges_dropped));
    std::printf("  errors                %llu\n", u64(s.errors));
    std::printf("  respreads             %llu\n", u64(s.respreads));
    std::printf("  pages moved           %llu\n", u64(s.pages_moved));
    std::printf("  pages skipped         %llu\n", u64(s.pages_skipped));
    std::printf("  sets                  %llu\n", u64(s.sets));
    std::printf("  timeouts              %llu\n", u64(s.timeouts));
    std::printf("  dropped clients       %llu\n", u64(s.dropped_clients));
    return 0;
}

}  // namespace numakeep::cli
