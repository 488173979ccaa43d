// SPDX-License-Identifier: MIT
// numakeepd's configuration: /etc/numakeep/numakeepd.conf.
//
// The format is one `key = value` per line; `#` starts a comment; blank
// lines are ignored. Per-cgroup semantics overrides are written
//   override /path/prefix = static
// per-cgroup placement settings
//   placement /path/prefix = no
//   placement_rate_mib /path/prefix = 64
// and the longest matching prefix (whole path components) wins. Parsing is
// pure: load_config() only adds reading the file. Every rejected line gives
// "FILE:LINE: reason".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "numakeep/policy.hpp"

namespace numakeep::daemon {

enum class LogLevel : std::uint8_t { Trace, Debug, Info, Warn, Error, Critical, Off };

std::string_view to_string(LogLevel l);
std::optional<LogLevel> parse_log_level(std::string_view s);

struct SemanticsOverride {
    std::string cgroup_prefix;  // "/batch.slice", always starting with '/'
    Semantics semantics = Semantics::Intent;
    friend bool operator==(const SemanticsOverride&, const SemanticsOverride&) = default;
};

// A per-cgroup value (`placement /path = no`, `placement_rate_mib /path = 64`).
struct CgroupValue {
    std::string cgroup_prefix;
    std::uint32_t value = 0;
    friend bool operator==(const CgroupValue&, const CgroupValue&) = default;
};

struct Config {
    Semantics default_semantics = Semantics::Intent;
    std::vector<SemanticsOverride> overrides;
    // Respread the pages already held after a rebind (DESIGN.md,
    // "Placement"); `move_pages` is its old name. Per cgroup as overrides.
    bool placement = true;
    std::uint32_t placement_rate_mib = 256;  // 0: no limit
    std::vector<CgroupValue> placement_overrides;
    std::vector<CgroupValue> placement_rate_overrides;
    bool kernel_assist = false;  // daemon's default for kernel assistance
    std::uint32_t reconcile_ms = 2000;
    std::uint32_t rebind_timeout_ms = 1000;
    std::uint32_t max_connections_per_uid = 1024;
    std::uint32_t max_connections = 65536;
    std::uint32_t max_concurrency = 64;       // rebinds in flight at once
    std::uint32_t message_timeout_ms = 5000;  // a half-sent frame is dropped after this
    std::uint32_t max_output_kib = 8192;      // a client that does not read is dropped past this
    std::uint32_t show_timeout_ms = 3000;     // QueryShow: the agent must answer within this
    std::string cgroup_root = "/sys/fs/cgroup";
    LogLevel log_level = LogLevel::Info;

    // The semantics for a process in `cgroup` (a path like "/a/b").
    Semantics semantics_for(std::string_view cgroup) const;
    // Placement on or off, and its rate, for a process in `cgroup`.
    bool placement_for(std::string_view cgroup) const;
    std::uint32_t placement_rate_for(std::string_view cgroup) const;
    friend bool operator==(const Config&, const Config&) = default;
};

struct ConfigError {
    std::string file;
    unsigned line = 0;  // 0: the file as a whole
    std::string reason;
    std::string message() const;  // "FILE:LINE: reason"
};

using ConfigResult = std::variant<Config, ConfigError>;

// Parses a whole configuration text; `file` only names it in errors.
ConfigResult parse_config(std::string_view text, std::string_view file);

// Reads and parses `path`. A missing file gives the defaults; any other
// read failure is an error.
ConfigResult load_config(const std::string& path);

}  // namespace numakeep::daemon
