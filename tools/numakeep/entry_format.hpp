// SPDX-License-Identifier: MIT
// How ps, show and status present the daemon's answers, as table cells and
// as the --json schema documented in numakeep(1). One place for both, so the
// table and the JSON never disagree.
#pragma once

#include <cstdint>
#include <string>

#include "json_writer.hpp"
#include "numakeep/protocol.hpp"

namespace numakeep::cli {

// "interleave", "bind|static_nodes", "mode 9" for an unknown one.
std::string mode_text(std::uint16_t mode, std::uint16_t flags);
// Splits the kernel's combined mode word (mode | MPOL_F_* flags).
std::uint16_t mode_of(std::uint16_t kernel_mode);
std::uint16_t flags_of(std::uint16_t kernel_mode);
// "0-3,7", or "-" for no node.
std::string nodes_text(const Nodemask& m);
// 4096 -> "4K", 1572864 -> "1.5M".
std::string size_text(std::uint64_t bytes);
// A past Unix time in ms relative to now: "12s ago", "3m ago", "never" for 0.
std::string ago_text(std::int64_t unix_ms, std::int64_t now_ms);
// "EINVAL" for 22, "" for 0.
std::string errno_name(int err);
std::string semantics_text(std::uint8_t semantics);
std::string log_level_text(std::uint8_t level);
// A C string field of fixed size that may lack its NUL.
template <std::size_t N>
std::string field_text(const char (&field)[N]) {
    std::size_t len = 0;
    while (len < N && field[len]) ++len;
    return std::string(field, len);
}
std::int64_t now_unix_ms();

// True when the nodes the rule gives now and the nodes the kernel holds now
// differ (the "*" mark of show). False when the kernel could not be read.
bool entry_differs(const proto::PolicyEntry& e);

// Who made a request: "program", or "set by uid U (pid P), 12s ago".
std::string origin_text(const proto::PolicyEntry& e, std::int64_t now_ms);

void write_process_json(JsonWriter& j, const proto::ProcEntry& p);
void write_policy_json(JsonWriter& j, const proto::PolicyEntry& e, bool is_range,
                       bool close = true);  // false: the caller adds keys, then closes

}  // namespace numakeep::cli
