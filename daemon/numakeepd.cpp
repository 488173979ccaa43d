// SPDX-License-Identifier: MIT
#include "numakeepd.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "logging.hpp"
#include "numakeep_config.h"

namespace numakeep::daemon {

namespace {

// One write raises several events (DESIGN.md): wait this long after the
// first so that a burst of them is read once. Events that come later find
// the mems already answered and request nothing.
constexpr std::int64_t kCoalesceMs = 2;
constexpr std::int64_t kHousekeepingMs = 250;

// Generations continue across restarts: seeded from the wall clock in
// microseconds, so a restarted daemon never hands out one an agent applied.
std::uint64_t generation_seed() {
    using namespace std::chrono;
    return static_cast<std::uint64_t>(
        duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

ServerLimits limits_of(const Config& c) {
    return ServerLimits{c.max_connections, c.max_connections_per_uid, c.message_timeout_ms,
                        std::size_t{c.max_output_kib} * 1024};
}

}  // namespace

Numakeepd::Numakeepd(Options options, Config config)
    : options_(std::move(options)),
      config_(std::move(config)),
      started_ms_(monotonic_ms()),
      server_(loop_,
              Server::Callbacks{[this](Connection& c, const proto::FrameHeader& h,
                                       const unsigned char* p) { return on_frame(c, h, p); },
                                [this](Connection& c) { on_close(c); }},
              ServerLimits{}),
      cgroupfs_(config_.cgroup_root),
      orchestrator_(generation_seed(), 1, 1000),
      rebind_timer_(loop_, [this] { pump(); }),
      reconcile_timer_(loop_, [this] { reconcile(); }),
      housekeeping_timer_(loop_, [this] { housekeeping(); }) {
    apply_options(config_);
    socket_path_ = options_.socket_path.value_or(NUMAKEEP_SOCKET_PATH);
    apply_config();
}

Numakeepd::~Numakeepd() = default;

void Numakeepd::apply_options(Config& c) const {
    if (options_.log_level) c.log_level = *options_.log_level;
    if (options_.reconcile_ms) c.reconcile_ms = *options_.reconcile_ms;
}

void Numakeepd::apply_config() {
    set_log_level(config_.log_level);
    server_.set_limits(limits_of(config_));
    orchestrator_.set_limits(config_.max_concurrency, config_.rebind_timeout_ms);
    handoffs_.set_max_per_uid(config_.max_connections_per_uid);
    reconcile_timer_.arm_periodic(config_.reconcile_ms);
}

void Numakeepd::reload() {
    notify_reloading();
    auto result = load_config(options_.config_path);
    if (auto* err = std::get_if<ConfigError>(&result)) {
        spdlog::error("reload failed, keeping the running configuration: {}", err->message());
    } else {
        Config next = std::get<Config>(std::move(result));
        apply_options(next);
        if (next.cgroup_root != config_.cgroup_root)
            spdlog::warn("cgroup_root changed to {}: takes effect after a restart",
                         next.cgroup_root);
        next.cgroup_root = config_.cgroup_root;
        config_ = std::move(next);
        apply_config();
        spdlog::info("configuration reloaded from {}", options_.config_path);
    }
    last_status_.clear();
    update_status();
}

int Numakeepd::run() {
    signals_ = std::make_unique<SignalSource>(
        loop_, std::initializer_list<int>{SIGTERM, SIGINT, SIGHUP}, [this](int signo) {
            if (signo == SIGHUP) {
                reload();
            } else {
                spdlog::info("{} received, stopping", strsignal(signo));
                loop_.stop();
            }
        });
    ::signal(SIGPIPE, SIG_IGN);

    std::vector<int> passed = activation_sockets();
    if (!passed.empty()) {
        server_.adopt(passed.front());
        if (auto path = server_.listening_path()) socket_path_ = *path;
        spdlog::info("listening on {}, passed by systemd", socket_path_);
    } else {
        server_.listen_path(socket_path_, 0666);
        spdlog::info("listening on {}", socket_path_);
    }

    if (cgroupfs_.is_cgroup2()) {
        watcher_ = std::make_unique<CgroupWatcher>(
            loop_, config_.cgroup_root, kCoalesceMs,
            [this](const CgroupWatcher::Changes& ch) { on_cgroup_changes(ch); });
        watcher_->start();
    } else {
        spdlog::warn(
            "{} is not a cgroup v2 mount: no cpuset events; mems come from "
            "/proc/PID/status in the reconcile",
            config_.cgroup_root);
    }
    housekeeping_timer_.arm_periodic(kHousekeepingMs);
    notify_ready("0 processes");
    bool ok = loop_.run();
    notify_stopping();
    return ok ? 0 : 1;
}

void Numakeepd::pump() {
    std::int64_t now = monotonic_ms();
    DueWork work = orchestrator_.due(now);
    for (int pid : work.timed_out) {
        const ProcessPlan* plan = orchestrator_.process(pid);
        Process* p = registry_.find(pid);
        spdlog::warn(
            "pid {} ({}) has not answered rebind generation {} within {} ms; others "
            "go on, it stays pending",
            pid, p ? p->comm : "?", plan ? plan->sent_generation : 0, config_.rebind_timeout_ms);
    }
    proto::Rebind r;
    for (const auto& cmd : work.send) {
        Process* p = registry_.find(cmd.pid);
        if (!p) continue;
        r.flags = config_.placement_for(p->cgroup) ? proto::kRebindPlacement : 0;
        r.placement_rate_mib = config_.placement_rate_for(p->cgroup);
        r.generation = cmd.generation;
        r.mems = cmd.mems;
        server_.send(p->conn, proto::MsgType::Rebind, 0, r);
        ++counters_.rebinds_requested;
    }
    if (!work.send.empty() && pending_event_ms_ != 0) {
        spdlog::debug("event to first rebind command: {} ms, {} commands", now - pending_event_ms_,
                      work.send.size());
        pending_event_ms_ = 0;
    }
    if (auto next = orchestrator_.next_deadline())
        rebind_timer_.arm_at(*next);
    else
        rebind_timer_.disarm();
}

void Numakeepd::housekeeping() {
    std::int64_t now = monotonic_ms();
    server_.expire_partial_frames(now);
    sets_.expire(now);
    expire_exec_handoffs(now);
    expire_shows(now);
}

void Numakeepd::update_status() {
    std::size_t pending = 0;
    for (const auto& [pid, plan] : orchestrator_.processes())
        if (!plan.current()) ++pending;
    std::string s = std::to_string(registry_.size()) + " processes in " +
                    std::to_string(orchestrator_.cgroups().size()) + " cgroups, " +
                    std::to_string(counters_.rebinds) + " rebinds, " + std::to_string(pending) +
                    " pending";
    if (s != last_status_) {
        last_status_ = s;
        notify_status(s);
    }
}

}  // namespace numakeep::daemon
