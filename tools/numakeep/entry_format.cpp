// SPDX-License-Identifier: MIT
#include "entry_format.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>

#include "numakeep/policy.hpp"

namespace numakeep::cli {
namespace {

struct FlagName {
    std::uint16_t bit;
    const char* name;
};
constexpr FlagName kFlagNames[] = {
    {kFlagStaticNodes, "static_nodes"},
    {kFlagRelativeNodes, "relative_nodes"},
    {kFlagNumaBalancing, "numa_balancing"},
};

void write_flags_json(JsonWriter& j, std::uint16_t flags) {
    j.begin_array();
    for (const auto& f : kFlagNames)
        if (flags & f.bit) j.value(f.name);
    j.end_array();
}

void write_home_node(JsonWriter& j, std::int32_t node) {
    if (node >= 0)
        j.value(node);
    else
        j.null();
}

}  // namespace

std::uint16_t mode_of(std::uint16_t kernel_mode) {
    return static_cast<std::uint16_t>(kernel_mode & ~kModeFlagsMask);
}
std::uint16_t flags_of(std::uint16_t kernel_mode) {
    return static_cast<std::uint16_t>(kernel_mode & kModeFlagsMask);
}

std::string mode_text(std::uint16_t mode, std::uint16_t flags) {
    std::string s = mode < kModeCount ? std::string(to_string(static_cast<Mode>(mode)))
                                      : "mode " + std::to_string(mode);
    for (const auto& f : kFlagNames)
        if (flags & f.bit) s += std::string("|") + f.name;
    return s;
}

std::string nodes_text(const Nodemask& m) {
    return m.empty() ? "-" : m.to_string();
}

std::string size_text(std::uint64_t bytes) {
    static constexpr const char* kUnits[] = {"B", "K", "M", "G", "T", "P"};
    double v = static_cast<double>(bytes);
    unsigned u = 0;
    while (v >= 1024 && u + 1 < std::size(kUnits)) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    if (u == 0 || v >= 100 || v == static_cast<double>(static_cast<std::uint64_t>(v)))
        std::snprintf(buf, sizeof buf, "%.0f%s", v, kUnits[u]);
    else
        std::snprintf(buf, sizeof buf, "%.1f%s", v, kUnits[u]);
    return buf;
}

std::int64_t now_unix_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string ago_text(std::int64_t unix_ms, std::int64_t now_ms) {
    if (unix_ms <= 0) return "never";
    std::int64_t s = (now_ms - unix_ms) / 1000;
    if (s < 0) s = 0;
    if (s < 120) return std::to_string(s) + "s ago";
    if (s < 7200) return std::to_string(s / 60) + "m ago";
    if (s < 172800) return std::to_string(s / 3600) + "h ago";
    return std::to_string(s / 86400) + "d ago";
}

std::string errno_name(int err) {
    if (err == 0) return {};
    const char* name = strerrorname_np(err);
    return name ? name : "errno " + std::to_string(err);
}

std::string semantics_text(std::uint8_t semantics) {
    return semantics <= static_cast<std::uint8_t>(Semantics::Kernel)
               ? std::string(to_string(static_cast<Semantics>(semantics)))
               : "semantics " + std::to_string(semantics);
}

std::string log_level_text(std::uint8_t level) {
    // spdlog's level numbering (spdlog::level::level_enum).
    static constexpr const char* kLevels[] = {"trace", "debug",    "info", "warn",
                                              "error", "critical", "off"};
    return level < std::size(kLevels) ? kLevels[level] : "level " + std::to_string(level);
}

bool entry_differs(const proto::PolicyEntry& e) {
    return e.kernel_ok == proto::kKernelRead && e.kernel_now != e.rule_now;
}

void write_process_json(JsonWriter& j, const proto::ProcEntry& p) {
    j.begin_object();
    j.key("pid").value(p.pid);
    j.key("uid").value(p.uid);
    j.key("command").value(field_text(p.comm));
    j.key("cgroup").value(field_text(p.cgroup));
    j.key("mems_now").value(p.mems_now);
    j.key("semantics").value(semantics_text(p.semantics));
    j.key("kernel_assist").value(p.kernel_assist != 0);
    j.key("generation_applied").value(p.generation_applied);
    j.key("generation_current").value(p.generation_current);
    j.key("rebind_pending").value(p.rebind_pending != 0);
    j.key("ranges").value(p.ranges);
    j.key("threads").value(p.threads);
    j.key("last_rebind");
    if (p.last_rebind_unix_ms <= 0) {
        j.null();
    } else {
        const proto::RebindDone& d = p.last;
        j.begin_object();
        j.key("unix_ms").value(p.last_rebind_unix_ms);
        j.key("generation").value(d.generation);
        j.key("ranges_rebound").value(d.ranges_rebound);
        j.key("ranges_dropped").value(d.ranges_dropped);
        j.key("ranges_checked").value(d.ranges_checked);
        j.key("threads_rebound").value(d.threads_rebound);
        j.key("errors").value(d.errors);
        int err = p.last_errno ? p.last_errno : d.first_errno;
        j.key("errno").value(err);
        j.key("error");
        if (err)
            j.value(errno_name(err));
        else
            j.null();
        j.key("duration_ms").value(static_cast<double>(d.duration_ns) / 1e6);
        j.end_object();
    }
    j.end_object();
}

std::string origin_text(const proto::PolicyEntry& e, std::int64_t now_ms) {
    if (e.origin != proto::kOriginSet) return "program";
    if (e.set_unix_ms == 0) return "set";
    return "set by uid " + std::to_string(e.set_by_uid) + " (pid " + std::to_string(e.set_by_pid) +
           "), " + ago_text(e.set_unix_ms, now_ms);
}

void write_policy_json(JsonWriter& j, const proto::PolicyEntry& e, bool is_range, bool close) {
    j.begin_object();
    if (is_range) {
        j.key("start").value(e.start);
        j.key("end").value(e.end);
        j.key("size").value(e.end - e.start);
    } else {
        j.key("tid").value(e.tid);
    }
    j.key("mode").value(mode_text(e.mode, 0));
    j.key("flags");
    write_flags_json(j, e.flags);
    j.key("home_node");
    write_home_node(j, e.home_node);
    j.key("requested").value(e.requested);
    j.key("mems_at_request").value(e.mems_at_request);
    j.key("rule_now").value(e.rule_now);
    j.key("rule_home_node");
    write_home_node(j, e.rule_home_node);
    j.key("kernel");
    if (e.kernel_ok != proto::kKernelRead) {
        j.null();
    } else {
        j.begin_object();
        j.key("mode").value(mode_text(mode_of(e.kernel_mode), 0));
        j.key("flags");
        write_flags_json(j, flags_of(e.kernel_mode));
        j.key("nodes").value(e.kernel_now);
        j.end_object();
    }
    j.key("differs").value(entry_differs(e));
    j.key("assisted").value(e.assisted != 0);
    if (!is_range) j.key("unreachable").value(e.kernel_ok == proto::kKernelUnreachable);
    j.key("origin").value(e.origin == proto::kOriginSet ? "set" : "program");
    j.key("set_by");
    if (e.origin != proto::kOriginSet || e.set_unix_ms == 0) {
        j.null();
    } else {
        j.begin_object();
        j.key("pid").value(e.set_by_pid);
        j.key("uid").value(e.set_by_uid);
        j.key("unix_ms").value(e.set_unix_ms);
        j.end_object();
    }
    if (close) j.end_object();
}

}  // namespace numakeep::cli
