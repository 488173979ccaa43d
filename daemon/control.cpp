// SPDX-License-Identifier: MIT
#include "control.hpp"

#include <unistd.h>

#include "numakeep_config.h"

namespace numakeep::daemon {

proto::ProcEntry make_proc_entry(const Process& p, const ProcessPlan* plan) {
    proto::ProcEntry e;
    e.pid = p.pid;
    e.uid = p.uid;
    e.ranges = p.ranges;
    e.threads = p.threads;
    e.semantics = static_cast<std::uint8_t>(p.semantics);
    e.kernel_assist = p.kernel_assist ? 1 : 0;
    e.last_errno = p.last.first_errno;
    e.last_rebind_unix_ms = p.last_rebind_unix_ms;
    e.last = p.last;
    copy_field(e.comm, p.comm);
    copy_field(e.cgroup, p.cgroup);
    if (plan) {
        e.generation_applied = plan->applied_generation;
        e.generation_current = plan->target_generation;
        e.rebind_pending = plan->current() ? 0 : 1;
        e.mems_now = plan->target_mems;
    }
    return e;
}

proto::StatusReply make_status(const StatusInputs& in) {
    proto::StatusReply r;
    r.daemon_pid = static_cast<std::uint32_t>(::getpid());
    r.processes = static_cast<std::uint32_t>(in.registry.size());
    r.uptime_ms = static_cast<std::uint64_t>(in.uptime_ms);
    for (const auto& [pid, p] : in.registry.all()) {
        r.ranges += p.ranges;
        r.threads += p.threads;
    }
    r.rebinds = in.counters.rebinds;
    r.rebinds_requested = in.counters.rebinds_requested;
    r.mems_writes = in.counters.mems_writes;
    r.ranges_rebound = in.counters.ranges_rebound;
    r.ranges_dropped = in.counters.ranges_dropped;
    r.errors = in.counters.errors;
    r.respreads = in.counters.respreads;
    r.pages_moved = in.counters.pages_moved;
    r.pages_skipped = in.counters.pages_skipped;
    r.sets = in.counters.sets;
    r.timeouts = in.timeouts;
    r.dropped_clients = in.dropped_clients;
    r.reconcile_ms = in.config.reconcile_ms;
    r.rebind_timeout_ms = in.config.rebind_timeout_ms;
    r.max_conns_per_uid = in.config.max_connections_per_uid;
    r.max_concurrency = in.config.max_concurrency;
    r.default_semantics = static_cast<std::uint8_t>(in.config.default_semantics);
    r.placement = in.config.placement ? 1 : 0;
    r.placement_rate_mib = in.config.placement_rate_mib;
    r.kernel_assist = in.config.kernel_assist ? 1 : 0;
    r.log_level = static_cast<std::uint8_t>(in.config.log_level);
    copy_field(r.config_path, in.config_path);
    copy_field(r.socket_path, in.socket_path);
    copy_field(r.version, std::string(NUMAKEEP_VERSION));
    return r;
}

}  // namespace numakeep::daemon
