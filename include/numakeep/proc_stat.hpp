// SPDX-License-Identifier: MIT
// The numeric fields of a /proc/PID/stat line (do_task_stat in
// fs/proc/array.c), for the runtime, the daemon and the tests alike. Pure
// and allocation-free: the runtime reads its own start time with it.
//
// The comm (field 2) may hold spaces and ')', so fields are counted from
// the last ')' on: state is field 3, utime 14, stime 15, starttime 22.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace numakeep {

inline constexpr int kStatUtime = 14;
inline constexpr int kStatStime = 15;
inline constexpr int kStatStartTime = 22;  // clock ticks since boot; exec keeps it

// Field `n` (4 or later: the numeric ones) of `stat` as an unsigned
// number; nullopt when the line is cut short or the field is not one.
inline std::optional<std::uint64_t> stat_field(std::string_view stat, int n) {
    std::size_t close = stat.rfind(')');
    if (close == std::string_view::npos || n < 4) return std::nullopt;
    std::string_view rest = stat;
    rest.remove_prefix(close + 1);  // not substr(): nothing here may throw
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    // rest starts at field 3 (state).
    for (int field = 3; field < n; ++field) {
        std::size_t sp = rest.find(' ');
        if (sp == std::string_view::npos) return std::nullopt;
        rest.remove_prefix(sp + 1);
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    }
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
    if (ec != std::errc{} || p == rest.data()) return std::nullopt;
    if (p != rest.data() + rest.size() && *p != ' ' && *p != '\n') return std::nullopt;
    return v;
}

// The process's start time (field 22), which tells a reused pid apart.
inline std::optional<std::uint64_t> stat_start_time(std::string_view stat) {
    return stat_field(stat, kStatStartTime);
}

}  // namespace numakeep
